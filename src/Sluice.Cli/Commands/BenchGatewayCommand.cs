using System.CommandLine;
using Sluice.Cli.Benchmarking;
using Sluice.Cli.Options;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice bench gateway`: the gateway's own cost, measured as TensorZero's and LiteLLM's published figures are: a built-in
/// fast fake backend, the same open-loop load sent straight to it and through a real `sluice gateway`, and the difference
/// (added latency p50/p99/p99.9; for streams added TTFT and inter-chunk delay), the gateway's CPU time per request and
/// resident memory, and with --find-max its highest closed-loop rate. Exit 1 when a request failed.
/// </summary>
internal static class BenchGatewayCommand
{
    public static Command Create()
    {
        var rate = Flags.Double("--rate", 1000, 0.1, 1_000_000, "from 0.1 to 1000000", "Requests per second sent each way (open loop: on schedule, whatever earlier ones do)");
        var duration = new Option<string>("--duration", "-d") { Description = "How long each way is measured: 10s, 1m (a bare number is seconds)", DefaultValueFactory = _ => "10s" };
        // long enough for the JIT to finish recompiling the hot paths (tiered compilation with PGO): measured after a 3 s warm-up
        // the gateway's CPU per request was twice its steady state, the recompilation counted in it
        var warmup = new Option<string>("--warmup") { Description = "Load at the same rate before each measurement, not counted (0 for none); long enough for the JIT to settle", DefaultValueFactory = _ => "20s" };
        var stream = new Option<bool>("--stream") { Description = "Streamed requests: also reports added TTFT and inter-chunk delay" };
        var chunks = Flags.Int("--chunks", 8, 1, 10_000, "Chunks in each of the fake backend's streams");
        var chunkGap = new Option<string>("--chunk-gap") { Description = "Time between the fake backend's stream chunks", DefaultValueFactory = _ => "5ms" };
        var findMax = new Option<bool>("--find-max") { Description = "Then find the highest rate through the gateway: closed loop at 1, 2, 4, ... clients until it stops growing" };
        var stepDuration = new Option<string>("--step-duration") { Description = "How long each --find-max step runs", DefaultValueFactory = _ => "3s" };
        var maxConcurrency = Flags.Int("--max-concurrency", 256, 1, 65_536, "The most clients --find-max tries");
        var gatewayConfig = new Option<string?>("--gateway-config") { Description = "Gateway YAML to measure instead of the built-in one; {backend} in it is the fake backend's URL, and it must serve model 'bench'" };
        var gatewayArgs = new Option<string[]>("--gateway-arg") { Description = "A flag passed to `sluice gateway` as it is (repeatable), e.g. --gateway-arg=--api-key=K" };
        var apiKey = new Option<string?>("--api-key") { Description = "Sent to the gateway as Authorization: Bearer (never to the fake backend)" };
        var virtualKey = new Option<string?>("--virtual-key")
        {
            Description = "Create a virtual key with these POST /admin/keys fields on the gateway (its config needs tenancy:) and send it, e.g. '{\"max_budget\": 1000}'",
        };
        var cache = new Option<string?>("--cache") { Description = "Measure response-cache hits: memory or redis; the built-in config gets a cache and every request is the same deterministic one, so all but the first are hits (use --find-max for hits/s)" };
        var cacheRedis = new Option<string?>("--cache-redis") { Description = "The Redis of --cache redis (host:port)" };
        var pacing = new Option<string>("--pacing")
        {
            Description = "How the open loop times its requests: exact (one every 1/--rate s, a high-resolution sleep) or timer (Task.Delay's 1 ms steps: bunches of requests, as before)",
            DefaultValueFactory = _ => "exact",
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("gateway", "Measure the gateway's own cost: the same open-loop load direct to a fake backend and through `sluice gateway`.")
        {
            rate, duration, warmup, stream, chunks, chunkGap, findMax, stepDuration, maxConcurrency, gatewayConfig, gatewayArgs, apiKey, virtualKey, cache, cacheRedis, pacing, json,
        };
        cmd.SetAction((parse, ct) => CliErrors.RunAsync(parse, async () =>
        {
            TimeSpan Time(Option<string> option, bool zeroAllowed)
            {
                TimeSpan t;
                try
                {
                    t = Duration.Parse(parse.GetValue(option)!);
                }
                catch (FormatException ex)
                {
                    throw new CommandException($"{option.Name}: {ex.Message}");
                }
                return t > TimeSpan.Zero || (zeroAllowed && t == TimeSpan.Zero) ? t
                    : throw new CommandException($"{option.Name} must be longer than zero (got {parse.GetValue(option)})");
            }
            string? config = parse.GetValue(gatewayConfig);
            if (config is not null && !File.Exists(config))
            {
                throw new CommandException($"--gateway-config {config}: no such file");
            }
            string? keyFields = parse.GetValue(virtualKey);
            if (keyFields is not null)
            {
                if (parse.GetValue(apiKey) is not null)
                {
                    throw new CommandException("--virtual-key and --api-key both say what key to send: give one");
                }
                try
                {
                    if (System.Text.Json.Nodes.JsonNode.Parse(keyFields) is not System.Text.Json.Nodes.JsonObject)
                    {
                        throw new CommandException($"--virtual-key must be a JSON object of key fields, not '{keyFields}'");
                    }
                }
                catch (System.Text.Json.JsonException e)
                {
                    throw new CommandException($"--virtual-key is not JSON ({e.Message}): '{keyFields}'", "e.g. --virtual-key '{\"max_budget\": 1000}'");
                }
            }
            string? store = parse.GetValue(cache);
            string? redis = parse.GetValue(cacheRedis);
            if (store is not (null or "memory" or "redis"))
            {
                throw new CommandException($"--cache must be memory or redis, not '{store}'");
            }
            if (store == "redis" && string.IsNullOrWhiteSpace(redis))
            {
                throw new CommandException("--cache redis needs --cache-redis HOST:PORT");
            }
            if (redis is not null && store != "redis")
            {
                throw new CommandException("--cache-redis is only read with --cache redis");
            }
            if (store is not null && config is not null)
            {
                throw new CommandException("--cache configures the built-in gateway config: with --gateway-config, write the cache: section in that file instead");
            }
            string pace = parse.GetValue(pacing)!;
            if (pace is not ("exact" or "timer"))
            {
                throw new CommandException($"--pacing must be exact or timer, not '{pace}'");
            }
            var settings = new GatewayBenchSettings(parse.GetValue(rate), Time(duration, false), Time(warmup, true), parse.GetValue(stream))
            {
                Chunks = parse.GetValue(chunks),
                ChunkGap = Time(chunkGap, true),
                FindMax = parse.GetValue(findMax),
                StepDuration = Time(stepDuration, false),
                MaxConcurrency = parse.GetValue(maxConcurrency),
                GatewayConfig = config,
                GatewayArgs = parse.GetValue(gatewayArgs) ?? [],
                ApiKey = parse.GetValue(apiKey),
                VirtualKey = keyFields,
                Cache = store,
                CacheRedis = redis,
                TimerPacing = pace == "timer",
            };
            if (settings.Rate * settings.Duration.TotalSeconds < 1)
            {
                throw new CommandException($"--rate × --duration sends no request ({settings.Rate} requests/s for {settings.Duration.TotalSeconds} s)");
            }
            var report = await new GatewayBench(settings, parse.InvocationConfiguration.Error).RunAsync(ct);
            parse.InvocationConfiguration.Output.WriteLine(parse.GetValue(json) ? report.ToJson() : report.ToText());
            return report.Failed ? 1 : 0;
        }));
        return cmd;
    }
}
