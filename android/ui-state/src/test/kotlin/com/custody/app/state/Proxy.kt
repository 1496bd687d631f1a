package com.custody.app.state

import java.io.IOException
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.net.URI
import java.util.concurrent.ConcurrentHashMap
import kotlin.concurrent.thread

/**
 * A loopback TCP proxy in front of the sync server that can drop every connection: a phone
 * enrolled through it loses its network on demand (a vault with no signal). The same as
 * bindings/tests/kotlin/Harness.kt's SwitchableProxy.
 */
class SwitchableProxy(upstreamUrl: String) : AutoCloseable {
    private val upstream = URI(upstreamUrl)
    private val listener = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val open = ConcurrentHashMap.newKeySet<Socket>()

    @Volatile
    private var online = true
    val url = "http://127.0.0.1:${listener.localPort}"

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
