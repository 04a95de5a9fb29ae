using System.Security.Cryptography;
using System.Text;
using Sluice.Hosting.Auth;

namespace Sluice.Gateway.Management;

/// <summary>
/// The clients' keys (the hosting layer's <see cref="FileApiKeyStore"/>: --api-key, --api-key-file) plus the master key,
/// which passes wherever a client key does; the admin routes then ask for the master key itself. A master key alone
/// does not make the proxy routes need a key. With virtual keys on (<paramref name="tenancy"/>) the gateway's own
/// KeyAuthentication checks every key, these included, so the hosting layer's check stands aside.
/// </summary>
internal sealed class GatewayKeyStore(FileApiKeyStore clients, string? masterKey, bool tenancy = false) : IApiKeyStore
{
    public bool Enabled => !tenancy && clients.Enabled;

    public async ValueTask<bool> IsValidAsync(string presented, CancellationToken cancellationToken) =>
        IsMaster(presented, masterKey) || await clients.IsValidAsync(presented, cancellationToken);

    public static bool IsMaster(string presented, string? masterKey) =>
        masterKey is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(masterKey));
}
