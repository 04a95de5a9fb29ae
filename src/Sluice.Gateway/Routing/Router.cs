using Sluice.Gateway.Configuration;
using Sluice.Gateway.Health;
using Sluice.Gateway.LoadBalancing;
using Sluice.Gateway.Management;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Routing;

/// <summary>
/// The gateway's routing state: the current <see cref="RoutingSnapshot"/>, each model's <see cref="TrafficSplit"/>, the
/// backends and the history of changes. Requests read it without locks (whole objects swapped by reference); changes
/// (a reloaded file, the admin API) are serialized and each is recorded with who made it.
/// </summary>
public sealed class Router
{
    private readonly Lock _changes = new();
    private readonly TimeProvider _time;
    private RoutingSnapshot? _snapshot;
    private Dictionary<string, TrafficSplit> _splits = new(StringComparer.Ordinal);

    public Router(TimeProvider time)
    {
        _time = time;
        Backends = new BackendRegistry(time);
    }

    public BackendRegistry Backends { get; }

    /// <summary>The lock every routing change takes (reentrant): the canary analysis takes it before its own, as a reload does.</summary>
    internal Lock ChangeLock => _changes;
    public ChangeHistory History { get; } = new();

    public RoutingSnapshot Snapshot => Volatile.Read(ref _snapshot) ?? throw new InvalidOperationException("no configuration applied yet");

    public IReadOnlyDictionary<string, TrafficSplit> Splits => Volatile.Read(ref _splits);

    /// <summary>Puts a validated configuration in service at once. A model's split follows the file when the file's split
    /// for it changed (or the model is new); otherwise changes made over the API stay.</summary>
    public void Apply(GatewayConfig config, string source, string actor)
    {
        lock (_changes)
        {
            var old = Volatile.Read(ref _snapshot);
            var splits = new Dictionary<string, TrafficSplit>(StringComparer.Ordinal);
            foreach (var model in config.Models)
            {
                string origin = TrafficSplit.Fingerprint(model.Traffic);
                _splits.TryGetValue(model.Name, out var current);
                if (current is not null && current.FileOrigin == origin && current.Percent.Keys.ToHashSet().SetEquals(model.Traffic.Keys))
                {
                    splits[model.Name] = current;
                    continue;
                }
                string stable = TrafficSplit.Largest(model.Traffic);
                var next = new TrafficSplit(model.Traffic, stable, current?.Stable != stable ? current?.Stable : current?.Previous, origin);
                splits[model.Name] = next;
                Record(source, actor, model.Name, current is null ? "model added" : "traffic set by file", "", current?.Percent, next.Percent);
            }
            foreach (var removed in _splits.Keys.Where(k => !splits.ContainsKey(k)))
            {
                Record(source, actor, removed, "model removed", "", _splits[removed].Percent, null);
            }
            var snapshot = new RoutingSnapshot(config, Backends.GetOrAdd);
            Backends.Retain(config.Models.SelectMany(m => m.Deployments).Select(d => d.BackendId).ToHashSet(StringComparer.Ordinal));
            Volatile.Write(ref _splits, splits);
            Volatile.Write(ref _snapshot, snapshot);
            Record(source, actor, null, old is null ? "configuration loaded" : "configuration reloaded",
                $"{config.Models.Count} models, {config.Models.Sum(m => m.Deployments.Count)} deployments", null, null);
            Applied?.Invoke(config);
        }
    }

    /// <summary>Sets a model's split (percent per version, adding up to 100; versions left out get 0).</summary>
    public TrafficSplit SetTraffic(string model, IReadOnlyDictionary<string, int> percent, string actor, string source = "api", string action = "traffic set", string detail = "")
    {
        lock (_changes)
        {
            var current = SplitOf(model);
            foreach (var (version, p) in percent)
            {
                if (!current.Percent.ContainsKey(version))
                {
                    throw ApiException.BadRequest($"model '{model}' has no version '{version}' (versions: {string.Join(", ", current.Percent.Keys)})", "traffic");
                }
                if (p is < 0 or > 100)
                {
                    throw ApiException.BadRequest($"traffic for '{version}' must be from 0 to 100, not {p}", "traffic");
                }
            }
            var full = current.Percent.Keys.ToDictionary(v => v, v => percent.GetValueOrDefault(v), StringComparer.Ordinal);
            if (full.Values.Sum() != 100)
            {
                throw ApiException.BadRequest($"traffic percentages must add up to 100, not {full.Values.Sum()}", "traffic");
            }
            string? allOn = full.FirstOrDefault(kv => kv.Value == 100).Key;
            var next = allOn is not null && allOn != current.Stable
                ? new TrafficSplit(full, allOn, current.Stable, current.FileOrigin)
                : new TrafficSplit(full, current.Stable, current.Previous, current.FileOrigin);
            return Replace(model, current, next, actor, action, source, detail);
        }
    }

    /// <summary>Gives all traffic to <paramref name="version"/> (default: the version with the most traffic besides the stable one).</summary>
    public TrafficSplit Promote(string model, string? version, string actor, string source = "api", string detail = "")
    {
        lock (_changes)
        {
            var current = SplitOf(model);
            string target = version ?? current.Percent.Where(kv => kv.Key != current.Stable && kv.Value > 0)
                .OrderByDescending(kv => kv.Value).Select(kv => kv.Key).FirstOrDefault()
                ?? throw ApiException.BadRequest($"model '{model}' has no canary to promote: name the version", "version");
            if (!current.Percent.ContainsKey(target))
            {
                throw ApiException.BadRequest($"model '{model}' has no version '{target}'", "version");
            }
            var all = current.Percent.Keys.ToDictionary(v => v, v => v == target ? 100 : 0, StringComparer.Ordinal);
            var next = new TrafficSplit(all, target, target == current.Stable ? current.Previous : current.Stable, current.FileOrigin);
            return Replace(model, current, next, actor, $"promoted {target}", source, detail);
        }
    }

    /// <summary>All traffic back to the stable version at once; when it holds everything already, back to the version before it.</summary>
    public TrafficSplit Rollback(string model, string actor)
    {
        lock (_changes)
        {
            var current = SplitOf(model);
            string target = !current.AllOn(current.Stable) ? current.Stable
                : current.Previous ?? throw ApiException.BadRequest($"model '{model}' has nothing to roll back to: {current.Stable} holds all traffic and no version held it before");
            var all = current.Percent.Keys.ToDictionary(v => v, v => v == target ? 100 : 0, StringComparer.Ordinal);
            var next = target == current.Stable
                ? new TrafficSplit(all, current.Stable, current.Previous, current.FileOrigin)
                : new TrafficSplit(all, target, current.Stable, current.FileOrigin);
            return Replace(model, current, next, actor, $"rolled back to {target}", "api", "");
        }
    }

    public TrafficSplit SplitOf(string model) =>
        Splits.TryGetValue(model, out var split) ? split : throw ApiException.ModelNotFound(model);

    /// <summary>
    /// The next replica for a request to <paramref name="model"/>: a version by the traffic split, then a replica of it by
    /// the balancing policy among those available and not in <paramref name="exclude"/>; other versions with traffic when
    /// the chosen one has none left. The replica's circuit has admitted the request. Null when nothing can take it.
    /// </summary>
    public Deployment? Pick(RoutingSnapshot snapshot, TrafficSplit split, string model, IReadOnlySet<BackendState> exclude, string? pool = null, string? prefix = null) =>
        (pool is null ? null : PickIn(snapshot, split, model, exclude, pool, prefix))
        // a request-shape pool with nothing left: the model's default pool takes it
        ?? PickIn(snapshot, split, model, exclude, null, prefix);

    private static Deployment? PickIn(RoutingSnapshot snapshot, TrafficSplit split, string model, IReadOnlySet<BackendState> exclude, string? pool, string? prefix) =>
        Pick(snapshot, split, model, exclude, pool, prefix, ignoreReadiness: false)
        // every replica failed its last readiness check (a slow probe on a loaded host, say): try them anyway rather than
        // refuse the request; circuits, cool-downs and replicas already tried still count (Envoy's panic routing)
        ?? (AnyReady(snapshot, model) ? null : Pick(snapshot, split, model, exclude, pool, prefix, ignoreReadiness: true));

    private static bool AnyReady(RoutingSnapshot snapshot, string model) =>
        snapshot.Models.TryGetValue(model, out var route) && route.Versions.Values.Any(p => p.Deployments.Any(d => d.Backend.Ready));

    private static Deployment? Pick(RoutingSnapshot snapshot, TrafficSplit split, string model, IReadOnlySet<BackendState> exclude, string? pool, string? prefix,
        bool ignoreReadiness)
    {
        if (!snapshot.Models.TryGetValue(model, out var route))
        {
            return null;
        }
        var breaker = snapshot.Config.Breaker;
        foreach (var version in split.Order())
        {
            if (!route.Versions.TryGetValue(version, out var replicas))
            {
                continue;
            }
            HashSet<int>? refused = null; // replicas whose circuit turned the request away: rare, so made when needed
            while (true)
            {
                bool Allowed(int i) => refused?.Contains(i) != true && replicas.Deployments[i].Config.Pool == pool && !exclude.Contains(replicas.Deployments[i].Backend)
                    && replicas.Deployments[i].Backend.Available(breaker, ignoreReadiness)
                    && (replicas.Deployments[i].Config.Rpm is not { } rpm || replicas.Deployments[i].Backend.UnderRate(rpm));
                int i = prefix is not null && snapshot.Config.Routing.PrefixAffinity is { } affinity
                    ? PrefixAffinity.Pick(replicas, Allowed, prefix, affinity.LoadFactor) : -1;
                if (i < 0)
                {
                    i = snapshot.Policy.Pick(replicas, Allowed);
                }
                if (i < 0)
                {
                    break;
                }
                if (replicas.Deployments[i].Backend.Breaker.TryAcquire(breaker))
                {
                    if (replicas.Deployments[i].Config.Rpm is not null)
                    {
                        replicas.Deployments[i].Backend.CountRate();
                    }
                    return replicas.Deployments[i];
                }
                (refused ??= []).Add(i);
            }
        }
        return null;
    }

    /// <summary>Whether some replica of a version with traffic could still take the request (no circuit trial taken).</summary>
    public bool AnyAvailable(RoutingSnapshot snapshot, TrafficSplit split, string model, IReadOnlySet<BackendState> exclude) =>
        snapshot.Models.TryGetValue(model, out var route) && split.Percent.Where(kv => kv.Value > 0)
            .Any(kv => route.Versions.TryGetValue(kv.Key, out var pool)
                && pool.Deployments.Any(d => !exclude.Contains(d.Backend) && d.Backend.Available(snapshot.Config.Breaker, !AnyReady(snapshot, model))));

    private TrafficSplit Replace(string model, TrafficSplit current, TrafficSplit next, string actor, string action, string source, string detail)
    {
        var splits = new Dictionary<string, TrafficSplit>(Splits, StringComparer.Ordinal) { [model] = next };
        Volatile.Write(ref _splits, splits);
        Record(source, actor, model, action, detail, current.Percent, next.Percent);
        return next;
    }

    private void Record(string source, string actor, string? model, string action, string detail,
        IReadOnlyDictionary<string, int>? before, IReadOnlyDictionary<string, int>? after)
    {
        History.Add(new ChangeRecord(_time.GetUtcNow(), source, actor, model, action, detail, before, after));
        Changed?.Invoke(History.All()[^1]);
    }

    /// <summary>Raised (under the change lock) once a configuration is in service: the canary analyses follow it.</summary>
    public event Action<GatewayConfig>? Applied;

    /// <summary>Raised (under the change lock) for every recorded change: the gateway logs it.</summary>
    public event Action<ChangeRecord>? Changed;
}
