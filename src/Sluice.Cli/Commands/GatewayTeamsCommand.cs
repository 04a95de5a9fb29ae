using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice gateway teams create|list|show|update|delete|block|unblock`: teams (a budget, limits and models shared by the
/// keys whose team_id names them) through a running gateway's LiteLLM-shaped /team/* routes (docs/tenancy.md), with the
/// master key from --master-key or SLUICE_MASTER_KEY. `--json` prints the gateway's answer.
/// </summary>
internal sealed class GatewayTeamsCommand(HttpMessageHandler? handler = null)
{
    private readonly GatewayAdminClient _admin = new(handler);

    public static Command Create(HttpMessageHandler? handler = null) => new GatewayTeamsCommand(handler).Build();

    private Command Build()
    {
        var teams = new Command("teams", "Manage teams on a running gateway: a budget, limits and models shared by the keys of each (behind the master key).");
        teams.Subcommands.Add(FieldsCommand("create", "Create a team; keys join it with --team ID (team_id).", "/team/new", idRequired: false));
        teams.Subcommands.Add(Simple("list", "List the teams.", null, HttpMethod.Get, _ => "/team/list", _ => null));
        var id = new Argument<string>("team-id") { Description = "The team's id (team_id)" };
        teams.Subcommands.Add(Simple("show", "Show one team, its spend in the current period and its keys.", id, HttpMethod.Get,
            p => $"/team/info?team_id={Uri.EscapeDataString(p.GetValue(id)!)}", _ => null));
        teams.Subcommands.Add(FieldsCommand("update", "Change a team's fields (the options given).", "/team/update", idRequired: true));
        teams.Subcommands.Add(Simple("delete", "Delete a team (refused while keys name it).", id, HttpMethod.Post, _ => "/team/delete",
            p => new JsonObject { ["team_ids"] = new JsonArray(p.GetValue(id)!) }));
        teams.Subcommands.Add(Simple("block", "Block a team: every gateway refuses its keys within a second, until it is unblocked.", id, HttpMethod.Post,
            _ => "/team/block", p => new JsonObject { ["team_id"] = p.GetValue(id)! }));
        teams.Subcommands.Add(Simple("unblock", "Unblock a blocked team.", id, HttpMethod.Post, _ => "/team/unblock", p => new JsonObject { ["team_id"] = p.GetValue(id)! }));
        return teams;
    }

    private Command FieldsCommand(string name, string description, string path, bool idRequired)
    {
        var id = new Argument<string?>("team-id") { Description = "The team's id (team_id); create makes one when none is given", Arity = idRequired ? ArgumentArity.ExactlyOne : ArgumentArity.ZeroOrOne };
        var alias = new Option<string?>("--alias") { Description = "A display name (team_alias)" };
        var limits = new AdminLimitOptions("team");
        var command = new Command(name, description) { id, alias };
        limits.AddTo(command);
        _admin.AddOptions(command);
        command.SetAction((parse, cancel) => CliErrors.RunAsync(parse, async () =>
        {
            var body = new JsonObject();
            AdminLimitOptions.Set(body, "team_id", parse.GetValue(id));
            AdminLimitOptions.Set(body, "team_alias", parse.GetValue(alias));
            limits.WriteTo(parse, body);
            var answer = await _admin.CallAsync(parse, HttpMethod.Post, path, body, cancel);
            var team = answer["data"] as JsonObject ?? answer.AsObject();
            _admin.Print(parse, answer, $"{(idRequired ? "updated" : "created")} team {team["team_id"]}\n{Describe(team)}");
            return 0;
        }));
        return command;
    }

    private Command Simple(string name, string description, Argument<string>? id, HttpMethod method, Func<ParseResult, string> path, Func<ParseResult, JsonObject?> body)
    {
        var command = new Command(name, description);
        if (id is not null)
        {
            command.Arguments.Add(id);
        }
        _admin.AddOptions(command);
        command.SetAction((parse, cancel) => CliErrors.RunAsync(parse, async () =>
        {
            var answer = await _admin.CallAsync(parse, method, path(parse), body(parse), cancel);
            _admin.Print(parse, answer, answer switch
            {
                JsonArray teams => Table(teams),
                JsonObject { } o when o["team_info"] is JsonObject info => Describe(info) + "\nkeys: "
                    + string.Join(", ", (o["keys"] as JsonArray ?? []).Select(k => Text(k?["token"]))),
                JsonObject { } o when o["deleted_teams"] is JsonArray deleted => "deleted " + string.Join(", ", deleted.Select(Text)),
                _ => Describe(answer.AsObject()),
            });
            return 0;
        }));
        return command;
    }

    private static string Table(JsonArray teams)
    {
        var lines = new List<string> { "TEAM                                  ALIAS            MODELS           BUDGET       SPEND        RPM      TPM      STATE" };
        foreach (var team in teams.OfType<JsonObject>())
        {
            string models = team["models"] is JsonArray { Count: > 0 } m ? string.Join(",", m.Select(x => (string?)x)) : "*";
            string budget = team["max_budget"] is null ? "-" : $"{Text(team["max_budget"])}/{Text(team["budget_duration"])}";
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{Text(team["team_id"]),-37} {Text(team["team_alias"]),-16} {models,-16} {budget,-12} {Text(team["spend"]),-12} {Text(team["rpm_limit"]),-8} "
                + $"{Text(team["tpm_limit"]),-8} {(team["blocked"] is JsonValue b && b.GetValue<bool>() ? "blocked" : "active")}"));
        }
        return string.Join('\n', lines);
    }

    private static string Describe(JsonObject team) => string.Join('\n', team.Select(kv => $"{kv.Key}: {Text(kv.Value)}"));

    private static string Text(JsonNode? node) => node switch
    {
        null => "-",
        JsonValue v when v.TryGetValue(out string? s) => s,
        _ => node.ToJsonString(),
    };
}
