using System.Collections.Concurrent;
using Sluice.Gateway.Configuration;

namespace Sluice.Gateway.Health;

/// <summary>The live state of every backend by id, kept across reloads so in-flight counts, circuits and errors carry over.</summary>
public sealed class BackendRegistry(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, BackendState> _backends = new(StringComparer.Ordinal);

    public BackendState GetOrAdd(DeploymentConfig d) =>
        _backends.GetOrAdd(d.BackendId, _ => new BackendState(d.BackendId, d.Url, d.HealthPath, time));

    /// <summary>Forgets backends no deployment names any more (requests still on them keep their own reference).</summary>
    public void Retain(IReadOnlySet<string> ids)
    {
        foreach (var id in _backends.Keys.Where(id => !ids.Contains(id)))
        {
            _backends.TryRemove(id, out _);
        }
    }

    public bool TryGet(string id, out BackendState backend) => _backends.TryGetValue(id, out backend!);

    public IReadOnlyList<BackendState> All => [.. _backends.Values.OrderBy(b => b.Id, StringComparer.Ordinal)];
}
