import Foundation

/// STOPGAP until custody-ffi exports custody-core's `scan::parse_scan` (which reads a scan as a
/// package tag, a GS1 barcode or a location label): tells a location label (`LOC:` + the
/// location's name, any case, as core's `LOCATION_PREFIX`) from any other scan, so the counting
/// screen knows which call to make. The name itself is checked by core when it is used, and every
/// other scan goes to core as it came. Replace with `parseScan(raw:)` when the bindings have it.
public enum LocationLabel {
    public static let prefix = "LOC:"

    /// The location named by a location label, or nil if `raw` is not one.
    public static func name(in raw: String) -> String? {
        let text = raw.trimmingCharacters(in: CharacterSet.whitespacesAndNewlines.union(.controlCharacters))
        guard text.uppercased().hasPrefix(prefix) else {
            return nil
        }
        return String(text.dropFirst(prefix.count))
    }
}
