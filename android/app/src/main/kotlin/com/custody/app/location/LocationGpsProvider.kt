package com.custody.app.location

import android.Manifest
import android.annotation.SuppressLint
import android.content.Context
import android.content.pm.PackageManager
import android.location.Location
import android.location.LocationListener
import android.location.LocationManager
import android.os.Build
import android.os.Bundle
import android.os.Looper
import android.os.SystemClock
import androidx.core.content.ContextCompat
import com.custody.app.state.GpsProvider
import com.custody.core.Gps
import java.math.BigDecimal
import java.math.RoundingMode

/**
 * The phone's position for a stop's record, from the platform's LocationManager (no Google Play
 * services: fleet handhelds often have none). While the route screen is open ([start]) it listens
 * for fixes so the one taken at "Confirm delivery" is fresh; [current] never waits for a fix: a
 * stop is recorded without a position rather than held up at a door with poor reception.
 *
 * The platform gives degrees and metres as doubles; they become decimal strings here, at the
 * edge, which is what the bindings take (core never sees a float).
 */
class LocationGpsProvider(
    private val context: Context,
    /** A fix older than this is not where the stop is (the truck has moved on since). */
    private val maxAgeMillis: Long = 2 * 60_000L,
) : GpsProvider {
    private val manager: LocationManager? = context.getSystemService(LocationManager::class.java)

    @Volatile
    private var latest: Location? = null

    // Every method spelled out: on API 26-28 the platform's interface has no default bodies for
    // the provider callbacks, and a lambda would crash there with AbstractMethodError.
    private val listener = object : LocationListener {
        override fun onLocationChanged(location: Location) {
            latest = better(latest, location)
        }

        @Deprecated("Deprecated in API 29; still called on older phones")
        override fun onStatusChanged(provider: String?, status: Int, extras: Bundle?) = Unit

        override fun onProviderEnabled(provider: String) = Unit

        override fun onProviderDisabled(provider: String) = Unit
    }

    fun permitted(): Boolean =
        granted(Manifest.permission.ACCESS_FINE_LOCATION) || granted(Manifest.permission.ACCESS_COARSE_LOCATION)

    /** Starts listening (the route screen is open). Safe to call again, e.g. after permission. */
    @SuppressLint("MissingPermission") // checked by permitted()
    fun start() {
        val lm = manager ?: return
        if (!permitted()) return
        lm.removeUpdates(listener)
        for (provider in providers(lm)) {
            runCatching { lm.requestLocationUpdates(provider, 10_000L, 10f, listener, Looper.getMainLooper()) }
        }
    }

    fun stop() {
        manager?.removeUpdates(listener)
    }

    /** Called off the main thread by the route model when a stop is confirmed or failed. */
    @SuppressLint("MissingPermission") // checked by permitted()
    override fun current(): Gps? {
        val lm = manager ?: return null
        if (!permitted()) return null
        var best = latest
        for (provider in providers(lm)) {
            best = better(best, runCatching { lm.getLastKnownLocation(provider) }.getOrNull())
        }
        // A fix without an accuracy is not recorded: the record would claim a precision it lacks.
        return best?.takeIf { ageMillis(it) <= maxAgeMillis && it.hasAccuracy() }?.let(::toGps)
    }

    private fun providers(lm: LocationManager): List<String> {
        val wanted = buildList {
            add(LocationManager.GPS_PROVIDER)
            add(LocationManager.NETWORK_PROVIDER)
            if (Build.VERSION.SDK_INT >= 31) add(LocationManager.FUSED_PROVIDER)
        }
        return wanted.filter { runCatching { lm.isProviderEnabled(it) }.getOrDefault(false) }
    }

    private fun granted(permission: String) =
        ContextCompat.checkSelfPermission(context, permission) == PackageManager.PERMISSION_GRANTED

    companion object {
        private fun ageMillis(l: Location): Long = (SystemClock.elapsedRealtimeNanos() - l.elapsedRealtimeNanos) / 1_000_000

        /** The newer fix, unless the older one is much more precise and still recent. */
        private fun better(current: Location?, candidate: Location?): Location? {
            if (candidate == null) return current
            if (current == null) return candidate
            val newer = candidate.elapsedRealtimeNanos > current.elapsedRealtimeNanos
            val muchWorse = candidate.hasAccuracy() && current.hasAccuracy() && candidate.accuracy > current.accuracy * 4
            val stale = ageMillis(current) > 60_000
            return if (newer && (!muchWorse || stale)) candidate else current
        }

        private fun toGps(l: Location) = Gps(
            latitude = BigDecimal.valueOf(l.latitude).setScale(6, RoundingMode.HALF_UP).toPlainString(),
            longitude = BigDecimal.valueOf(l.longitude).setScale(6, RoundingMode.HALF_UP).toPlainString(),
            // Float.toString keeps the value as shown, without the binary tail of a double;
            // rounded up to whole metres, never claiming better than measured.
            accuracyM = BigDecimal(l.accuracy.toString()).setScale(0, RoundingMode.UP).toPlainString(),
        )
    }
}
