namespace Sluice.Hosting.Auth;

/// <summary>
/// Where the keys a host accepts come from. <see cref="FileApiKeyStore"/> holds keys given on the command line and
/// in a key file; a host registers its own (a database, for the gateway) before <c>AddSluiceHosting</c> to replace it.
/// </summary>
public interface IApiKeyStore
{
    /// <summary>True when requests need a key at all; false serves every route without authentication.</summary>
    bool Enabled { get; }

    /// <summary>Whether <paramref name="presented"/> (the bearer token, trimmed) is a key accepted now.</summary>
    ValueTask<bool> IsValidAsync(string presented, CancellationToken cancellationToken);
}
