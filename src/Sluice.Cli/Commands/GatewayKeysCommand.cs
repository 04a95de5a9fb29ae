using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice gateway keys create|list|show|rotate (regenerate)|revoke|block|unblock`: virtual keys through a running gateway's admin API
/// (docs/tenancy.md), with the master key from --master-key or SLUICE_MASTER_KEY. `--json` prints the gateway's answer.
/// </summary>
internal sealed class GatewayKeysCommand(HttpMessageHandler? handler = null)
{
    private readonly GatewayAdminClient _admin = new(handler);

    public static Command Create(HttpMessageHandler? handler = null) => new GatewayKeysCommand(handler).Build();

    private Command Build()
    {
        var keys = new Command("keys", "Manage virtual keys on a running gateway (its admin API, behind the master key).");
        keys.Subcommands.Add(CreateCommand());
        keys.Subcommands.Add(Simple("list", "List the keys (never their secrets).", null, HttpMethod.Get, _ => "/admin/keys"));
        var id = new Argument<string>("id") { Description = "The key's id (key_...)" };
        keys.Subcommands.Add(Simple("show", "Show one key.", id, HttpMethod.Get, p => $"/admin/keys/{Uri.EscapeDataString(p.GetValue(id)!)}"));
        keys.Subcommands.Add(Simple("revoke", "Revoke a key: every gateway refuses it within a second.", id, HttpMethod.Post,
            p => $"/admin/keys/{Uri.EscapeDataString(p.GetValue(id)!)}/revoke"));
        keys.Subcommands.Add(Simple("block", "Block a key: every gateway refuses it within a second, until it is unblocked.", id, HttpMethod.Post,
            p => $"/admin/keys/{Uri.EscapeDataString(p.GetValue(id)!)}/block"));
        keys.Subcommands.Add(Simple("unblock", "Unblock a blocked key.", id, HttpMethod.Post,
            p => $"/admin/keys/{Uri.EscapeDataString(p.GetValue(id)!)}/unblock"));
        keys.Subcommands.Add(RotateCommand());
        return keys;
    }

    private Command CreateCommand()
    {
        var alias = new Option<string?>("--alias") { Description = "A display name (key_alias)" };
        var team = new Option<string?>("--team") { Description = "The owning team (team_id)" };
        var user = new Option<string?>("--user") { Description = "The owner (user_id)" };
        var limits = new AdminLimitOptions("key");
        var duration = new Option<string?>("--duration") { Description = "Expires after: 30s, 15m, 12h, 30d" };
        var command = new Command("create", "Create a key; its secret is printed once.") { alias, team, user };
        limits.AddTo(command);
        command.Options.Add(duration);
        _admin.AddOptions(command);
        command.SetAction((parse, cancel) => CliErrors.RunAsync(parse, async () =>
        {
            var body = new JsonObject();
            AdminLimitOptions.Set(body, "key_alias", parse.GetValue(alias));
            AdminLimitOptions.Set(body, "team_id", parse.GetValue(team));
            AdminLimitOptions.Set(body, "user_id", parse.GetValue(user));
            limits.WriteTo(parse, body);
            AdminLimitOptions.Set(body, "duration", parse.GetValue(duration));
            var answer = await _admin.CallObjectAsync(parse, HttpMethod.Post, "/admin/keys", body, cancel);
            _admin.Print(parse, answer, $"created {answer["id"]}\nsecret (shown once; store it now): {answer["key"]}");
            return 0;
        }));
        return command;
    }

    private Command RotateCommand()
    {
        var id = new Argument<string>("id") { Description = "The key's id (key_...)" };
        var grace = new Option<string?>("--grace") { Description = "How long the old secret keeps working: 30s, 15m, 12h, 1d (default: stops at once)" };
        var command = new Command("rotate", "Give a key a new secret, printed once (alias: regenerate, LiteLLM's name).") { id, grace };
        command.Aliases.Add("regenerate");
        _admin.AddOptions(command);
        command.SetAction((parse, cancel) => CliErrors.RunAsync(parse, async () =>
        {
            var body = new JsonObject();
            if (parse.GetValue(grace) is { } g)
            {
                body["grace_period"] = g;
            }
            var answer = await _admin.CallObjectAsync(parse, HttpMethod.Post, $"/admin/keys/{Uri.EscapeDataString(parse.GetValue(id)!)}/rotate", body, cancel);
            string until = answer["previous_key_valid_until"] is { } u ? $"the old secret works until {u}" : "the old secret no longer works";
            _admin.Print(parse, answer, $"rotated {answer["id"]}; {until}\nnew secret (shown once; store it now): {answer["key"]}");
            return 0;
        }));
        return command;
    }

    private Command Simple(string name, string description, Argument<string>? id, HttpMethod method, Func<ParseResult, string> path)
    {
        var command = new Command(name, description);
        if (id is not null)
        {
            command.Arguments.Add(id);
        }
        _admin.AddOptions(command);
        command.SetAction((parse, cancel) => CliErrors.RunAsync(parse, async () =>
        {
            var answer = await _admin.CallObjectAsync(parse, method, path(parse), null, cancel);
            _admin.Print(parse, answer, answer["keys"] is JsonArray keys ? Table(keys) : Describe(answer));
            return 0;
        }));
        return command;
    }

    private static string Table(JsonArray keys)
    {
        var lines = new List<string> { "ID                    ALIAS            TEAM             MODELS           RPM      STATE" };
        foreach (var key in keys.OfType<JsonObject>())
        {
            string models = key["models"] is JsonArray { Count: > 0 } m ? string.Join(",", m.Select(x => (string?)x)) : "*";
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{key["id"],-21} {Text(key["key_alias"]),-16} {Text(key["team_id"]),-16} {models,-16} {Text(key["rpm_limit"]),-8} {State(key)}"));
        }
        return string.Join('\n', lines);
    }

    private static string Describe(JsonObject key) =>
        string.Join('\n', key.Where(kv => kv.Key != "key").Select(kv => $"{kv.Key}: {Text(kv.Value)}"));

    private static string State(JsonObject key) => key["revoked_at"] is not null ? "revoked"
        : key["blocked_at"] is not null ? "blocked"
        : key["expires"] is { } e && DateTimeOffset.Parse((string)e!, CultureInfo.InvariantCulture) <= DateTimeOffset.UtcNow ? "expired"
        : "active";

    private static string Text(JsonNode? node) => node switch
    {
        null => "-",
        JsonValue v when v.TryGetValue(out string? s) => s,
        _ => node.ToJsonString(),
    };
}
