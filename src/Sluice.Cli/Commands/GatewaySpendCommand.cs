using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice gateway spend --url URL --master-key KEY [--group-by key|team|model|day] [--from] [--to] [--json]`: the
/// gateway's recorded spend (GET /admin/spend), as a table or, with --json, the gateway's answer as it is.
/// </summary>
internal sealed class GatewaySpendCommand
{
    private readonly Option<string> _url = new("--url") { Description = "The gateway, e.g. http://127.0.0.1:4000", Required = true };
    private readonly Option<string?> _masterKey = new("--master-key") { Description = "The gateway's master key (or SLUICE_MASTER_KEY)" };
    private readonly Option<string> _groupBy = new("--group-by") { Description = "key, team, model or day", DefaultValueFactory = _ => "model" };
    private readonly Option<string?> _from = new("--from") { Description = "Start (a date or ISO time, UTC), inclusive" };
    private readonly Option<string?> _to = new("--to") { Description = "End (a date or ISO time, UTC), exclusive" };
    private readonly Option<bool> _json = new("--json") { Description = "Print the gateway's JSON answer" };

    public static Command Create() => new GatewaySpendCommand().Build();

    private Command Build()
    {
        var cmd = new Command("spend", "Spend and tokens recorded by a gateway, grouped by key, team, model or day (docs/tenancy.md).")
        {
            _url, _masterKey, _groupBy, _from, _to, _json,
        };
        cmd.SetAction((parse, cancel) => CliErrors.RunAsync(parse, () => RunAsync(parse, cancel)));
        return cmd;
    }

    private async Task<int> RunAsync(ParseResult parse, CancellationToken cancel)
    {
        string url = parse.GetValue(_url)!;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
        {
            throw new CommandException($"--url '{url}' must be an absolute http(s) URL");
        }
        string groupBy = parse.GetValue(_groupBy)!;
        if (groupBy is not ("key" or "team" or "model" or "day"))
        {
            throw new CommandException($"--group-by '{groupBy}': use key, team, model or day");
        }
        string key = parse.GetValue(_masterKey) ?? Environment.GetEnvironmentVariable("SLUICE_MASTER_KEY")
            ?? throw new CommandException("--master-key is required (or SLUICE_MASTER_KEY): spend is behind the admin API");
        string query = $"/admin/spend?group_by={groupBy}";
        foreach (var (name, value) in new[] { ("from", parse.GetValue(_from)), ("to", parse.GetValue(_to)) })
        {
            if (value is not null)
            {
                query += $"&{name}={Uri.EscapeDataString(value)}";
            }
        }
        using var http = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var (status, body) = await CliErrors.StepAsync($"cannot read {baseUri}", async () =>
        {
            using var response = await http.GetAsync(query, cancel);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancel));
        }, "the gateway is down or unreachable");
        if (status != 200)
        {
            string message = body;
            try
            {
                message = JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString() ?? body;
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
            }
            throw new CommandException($"the gateway answered {status}: {message}");
        }
        var stdout = parse.InvocationConfiguration.Output;
        stdout.Write(parse.GetValue(_json) ? body.TrimEnd() + "\n" : Table(groupBy, body));
        return 0;
    }

    private static string Table(string groupBy, string json)
    {
        var groups = JsonDocument.Parse(json).RootElement.GetProperty("groups");
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{groupBy,-36} {"requests",10} {"prompt",12} {"completion",12} {"total",12} {"spend",20}");
        foreach (var g in groups.EnumerateArray())
        {
            string name = g.GetProperty(groupBy).ValueKind == JsonValueKind.Null ? "(none)" : g.GetProperty(groupBy).GetString()!;
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{name,-36} {g.GetProperty("requests").GetInt64(),10} {g.GetProperty("prompt_tokens").GetInt64(),12} {g.GetProperty("completion_tokens").GetInt64(),12} "
                + $"{g.GetProperty("total_tokens").GetInt64(),12} {g.GetProperty("spend").GetDecimal().ToString(CultureInfo.InvariantCulture),20}");
        }
        return text.ToString();
    }
}
