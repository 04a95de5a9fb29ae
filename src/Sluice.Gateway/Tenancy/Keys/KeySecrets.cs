using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Sluice.Gateway.Tenancy.Keys;

/// <summary>
/// Virtual key secrets and ids: a secret is "sk-" and 32 random bytes in base64url (43 characters), shown once; the store
/// keeps only its SHA-256 (hex), so a leaked database gives no working key. 256 random bits need no salt or slow hash:
/// nothing can be guessed, and the hash is what lookups index.
/// </summary>
public static class KeySecrets
{
    public const string Prefix = "sk-";

    /// <summary>Characters after the prefix of a secret this gateway makes (32 bytes in base64url, no padding).</summary>
    public const int SecretChars = 43;

    public static string NewSecret() => Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    /// <summary>A stable id, "key_" and 16 random hex digits: safe in logs, metrics and URLs.</summary>
    public static string NewId() => "key_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>Null when <paramref name="presented"/> has the shape of a secret, else what is wrong with it (for a 401 that names the problem).</summary>
    public static string? Malformed(string presented)
    {
        if (!presented.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return "the API key is malformed: a virtual key starts with 'sk-'";
        }
        string rest = presented[Prefix.Length..];
        if (rest.Length != SecretChars || !rest.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            return $"the API key is malformed: a virtual key is 'sk-' followed by {SecretChars} base64url characters (this one has {rest.Length} characters after 'sk-')";
        }
        return null;
    }

    /// <summary>Whether two hashes (hex) are equal, in constant time.</summary>
    public static bool SameHash(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b));
}
