using System.CommandLine;
using Microsoft.Extensions.Logging;
using Sluice.Cli.Options;
using Sluice.Gateway;
using Sluice.Gateway.Configuration;
using Sluice.Hosting;
using Sluice.Hosting.Auth;
using Sluice.Hosting.Diagnostics;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice gateway --config gateway.yaml`: one OpenAI endpoint in front of many backends (docs/gateway.md). The listener,
/// keys and TLS flags are `sluice serve`'s; the routing lives in the YAML file, which is watched and reloaded. Every flag
/// can also be set as <c>SLUICE_&lt;FLAG&gt;</c> (<see cref="EnvironmentFlags"/>, as serve); the flag wins.
/// </summary>
internal sealed class GatewayCommand
{
    // not Required: SLUICE_CONFIG may give it, and the parser would refuse the command line before the environment is read
    private readonly Option<string?> _config = new("--config") { Description = "Gateway YAML file: models, deployments, routing (docs/gateway.md); required" };
    private readonly Option<string> _host = new("--host") { Description = "Address to bind", DefaultValueFactory = _ => "127.0.0.1" };
    private readonly Option<int> _port = new("--port") { Description = "Port (0 picks a free one)", DefaultValueFactory = _ => 4000 };
    private readonly Option<string[]> _apiKeys = new("--api-key") { Description = "API key clients must send as 'Authorization: Bearer KEY' (repeatable)" };
    private readonly Option<string?> _apiKeyFile = new("--api-key-file") { Description = "File of API keys, one a line; re-read when it changes" };
    private readonly Option<string?> _masterKey = new("--master-key") { Description = "Key of the admin API (/admin/*); without it the admin API is off" };
    private readonly Option<string?> _sslCert = new("--ssl-certfile") { Description = "PEM certificate: serve HTTPS (reloaded when it changes)" };
    private readonly Option<string?> _sslKey = new("--ssl-keyfile") { Description = "PEM private key of --ssl-certfile" };
    private readonly Option<double?> _shutdownTimeout = new("--shutdown-timeout") { Description = "Seconds SIGTERM waits for in-flight requests (default 30)" };
    private readonly Option<string> _logLevel = new("--log-level") { Description = "trace, debug, info, warning or error", DefaultValueFactory = _ => "info" };
    private readonly Option<int?> _traceMax = new("--debug-trace-max-seconds") { Description = "Longest CPU trace GET /debug/trace takes, in seconds (default 60)" };

    public static Command Create() => new GatewayCommand().Build();

    private Command Build()
    {
        var cmd = new Command("gateway", "Route OpenAI requests across many backends: load balancing, canary and blue-green, failover, health.")
        {
            _config, _host, _port, _apiKeys, _apiKeyFile, _masterKey, _sslCert, _sslKey, _shutdownTimeout, _logLevel, _traceMax,
        };
        cmd.Subcommands.Add(GatewayKeysCommand.Create());
        cmd.Subcommands.Add(GatewayTeamsCommand.Create());
        cmd.Subcommands.Add(GatewaySpendCommand.Create());
        // synchronous on purpose: SIGTERM then belongs to the host, which drains
        cmd.SetAction(parse => RunAsync(parse, cmd).GetAwaiter().GetResult());
        return cmd;
    }

    /// <summary>
    /// The command line with SLUICE_&lt;FLAG&gt; variables merged in (flag > environment; the gateway has no flags file: its
    /// --config is the routing YAML), a malformed value failing with the variable's name; then --config is required.
    /// </summary>
    internal static ParseResult Resolve(ParseResult parse, Command cmd, System.Collections.IDictionary environment)
    {
        parse = EnvironmentFlags.Merge(parse, cmd, environment);
        var config = cmd.Options.Single(o => o.Name == "--config");
        if (parse.GetResult(config) is not { Implicit: false })
        {
            throw new CommandException("--config is required: the gateway's YAML file (or set SLUICE_CONFIG)", "see docs/gateway.md for the file's fields");
        }
        return parse;
    }

    private async Task<int> RunAsync(ParseResult parse, Command cmd)
    {
        var stdout = parse.InvocationConfiguration.Output;
        return await CliErrors.RunAsync(parse, async () =>
        {
            parse = Resolve(parse, cmd, Environment.GetEnvironmentVariables());
            var keys = parse.GetValue(_apiKeys) ?? [];
            foreach (var key in keys)
            {
                FileApiKeyStore.RequireKey(key, "--api-key");
            }
            if (parse.GetValue(_masterKey) is { } master)
            {
                FileApiKeyStore.RequireKey(master, "--master-key");
            }
            var defaults = new SluiceHostingOptions();
            int? traceMax = parse.GetValue(_traceMax);
            if (traceMax is < 1)
            {
                throw new FormatException($"--debug-trace-max-seconds {traceMax}: give a whole number of seconds, at least 1");
            }
            var options = new GatewayOptions
            {
                ConfigPath = parse.GetValue(_config)!,
                MasterKey = parse.GetValue(_masterKey),
                Diagnostics = traceMax is { } max ? new DiagnosticsOptions { MaxTraceSeconds = max } : new DiagnosticsOptions(),
                Hosting = defaults with
                {
                    Host = parse.GetValue(_host)!,
                    Port = parse.GetValue(_port),
                    ApiKeys = keys,
                    ApiKeyFile = parse.GetValue(_apiKeyFile),
                    SslCertFile = parse.GetValue(_sslCert),
                    SslKeyFile = parse.GetValue(_sslKey),
                    ShutdownTimeout = parse.GetValue(_shutdownTimeout) is { } s ? TimeSpan.FromSeconds(s) : defaults.ShutdownTimeout,
                    InlineScheduling = ThreadPoolTuning.InlineIo, // Kestrel inline too where the socket completions are (docs/gateway.md)
                },
                LogLevel = parse.GetValue(_logLevel)!.ToLowerInvariant() switch
                {
                    "trace" => LogLevel.Trace,
                    "debug" => LogLevel.Debug,
                    "info" or "information" => LogLevel.Information,
                    "warning" or "warn" => LogLevel.Warning,
                    "error" => LogLevel.Error,
                    var l => throw new FormatException($"--log-level '{l}': use trace, debug, info, warning or error"),
                },
            };
            SluiceGateway gateway;
            try
            {
                gateway = SluiceGateway.Create(options);
            }
            catch (GatewayConfigException ex)
            {
                throw new CommandException(ex.Message, "see docs/gateway.md for the file's fields");
            }
            catch (Sluice.Gateway.Tenancy.Storage.TenancyStoreException ex)
            {
                throw new CommandException("tenancy.database: " + ex.Message, "see docs/tenancy.md");
            }
            await using (gateway)
            {
                await gateway.StartAsync();
                foreach (var address in gateway.Addresses)
                {
                    stdout.WriteLine($"sluice gateway: listening on {address}");
                }
                stdout.Flush();
                await gateway.WaitForShutdownAsync();
                stdout.WriteLine("sluice gateway: stopped");
            }
            return 0;
        });
    }
}
