// Shared by the bindings' JVM suite (bindings/tests/run-kotlin.sh) and the Android screen models'
// (android/ui-state/run-jvm-tests.sh): both compile this folder with their tests.
package com.custody.testing

import java.io.IOException
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.net.URI
import java.util.concurrent.ConcurrentHashMap
import kotlin.concurrent.thread

/** A loopback TCP proxy in front of the server that can drop the connection: a phone that
 * syncs through it goes offline on demand, as in a vault with no signal. */
class SwitchableProxy(upstreamUrl: String) : AutoCloseable {
    private val upstream = URI(upstreamUrl)
    private val listener = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val open = ConcurrentHashMap.newKeySet<Socket>()

    @Volatile
    private var online = true
    // The proxy relays bytes: TLS passes through it, to a certificate that names 127.0.0.1.
    val url = "${upstream.scheme}://127.0.0.1:${listener.localPort}"

    init {
        thread(isDaemon = true, name = "proxy-accept") {
            while (!listener.isClosed) {
                val client = try { listener.accept() } catch (e: IOException) { break }
                if (!online) {
                    client.close()
                    continue
                }
                val server = try { Socket(upstream.host, upstream.port) } catch (e: IOException) {
                    client.close()
                    continue
                }
                open += client
                open += server
                pump(client, server)
                pump(server, client)
            }
        }
    }

    private fun pump(from: Socket, to: Socket) = thread(isDaemon = true, name = "proxy-pump") {
        try {
            from.getInputStream().copyTo(to.getOutputStream())
        } catch (_: IOException) {
        } finally {
            open -= from
            open -= to
            from.close()
            to.close()
        }
    }

    fun goOffline() {
        online = false
        open.forEach { it.close() }
    }

    fun goOnline() {
        online = true
    }

    override fun close() {
        listener.close()
        open.forEach { it.close() }
    }
}
