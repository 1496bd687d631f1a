import Foundation
import Security

/// The device store's encryption key: 32 random bytes, made once per install and kept in the
/// Keychain as a generic password that never leaves this device (not in backups, not in iCloud
/// Keychain) and is readable after the first unlock since boot, so background sync can open the
/// store while the phone is locked.
public struct KeychainKeyStore: Sendable {
    public static let keyLength = 32

    public let service: String
    public let account: String

    public init(service: String = "com.custody.store", account: String = "store-key") {
        self.service = service
        self.account = account
    }

    /// The key, created and saved on first use.
    public func storeKey() throws -> Data {
        if let existing = try read() {
            return existing
        }
        let key = try Self.randomKey()
        var item = baseQuery()
        item[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        item[kSecValueData as String] = key
        let status = SecItemAdd(item as CFDictionary, nil)
        if status == errSecDuplicateItem, let existing = try read() {
            // Another caller saved one first: use theirs so the store has one key.
            return existing
        }
        guard status == errSecSuccess else {
            throw KeychainKeyStoreError.keychain(status)
        }
        return key
    }

    /// The key as 64 lowercase hex digits (the form SQLCipher's `PRAGMA key = "x'...'"` takes).
    public func storeKeyHex() throws -> String {
        try storeKey().map { String(format: "%02x", $0) }.joined()
    }

    /// Forgets the key: the store it protected can no longer be opened. For a device reset only.
    public func delete() throws {
        let status = SecItemDelete(baseQuery() as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw KeychainKeyStoreError.keychain(status)
        }
    }

    func read() throws -> Data? {
        var query = baseQuery()
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        switch status {
        case errSecSuccess:
            guard let data = result as? Data, data.count == Self.keyLength else {
                throw KeychainKeyStoreError.unreadableItem
            }
            return data
        case errSecItemNotFound:
            return nil
        default:
            throw KeychainKeyStoreError.keychain(status)
        }
    }

    private func baseQuery() -> [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            kSecAttrSynchronizable as String: false,
        ]
    }

    private static func randomKey() throws -> Data {
        var bytes = [UInt8](repeating: 0, count: keyLength)
        let status = SecRandomCopyBytes(kSecRandomDefault, keyLength, &bytes)
        guard status == errSecSuccess else {
            throw KeychainKeyStoreError.random(status)
        }
        return Data(bytes)
    }
}

public enum KeychainKeyStoreError: Error, LocalizedError {
    case keychain(OSStatus)
    case random(OSStatus)
    case unreadableItem

    public var errorDescription: String? {
        switch self {
        case .keychain(let status):
            let text = SecCopyErrorMessageString(status, nil) as String? ?? "error \(status)"
            return "The device key could not be read from the Keychain (\(text)). Unlock the phone and try again."
        case .random(let status):
            return "The device key could not be made (error \(status))."
        case .unreadableItem:
            return "The device key in the Keychain is damaged; call support."
        }
    }
}
