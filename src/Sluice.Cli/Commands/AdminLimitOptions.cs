using System.CommandLine;
using System.Text.Json.Nodes;

namespace Sluice.Cli.Commands;

/// <summary>
/// The models and limits a key or a team is given (`gateway keys create`, `gateway teams create|update`): the options
/// and the admin API fields they set (LiteLLM's names), a field only when its option was given.
/// </summary>
internal sealed class AdminLimitOptions
{
    private readonly Option<string[]> _models;
    private readonly Option<long?> _rpm;
    private readonly Option<long?> _tpm;
    private readonly Option<long?> _parallel;
    private readonly Option<decimal?> _budget;
    private readonly Option<string?> _period;

    /// <param name="whose">"key" or "team": whose models and limits the descriptions name.</param>
    public AdminLimitOptions(string whose)
    {
        string across = whose == "team" ? " across the team's keys" : "";
        _models = new Option<string[]>("--model") { Description = $"A model the {whose}{(whose == "team" ? "'s keys" : "")} may call (repeatable; none: every model)" };
        _rpm = new Option<long?>("--rpm", "--rpm-limit") { Description = $"Requests per minute{across}, fleet-wide (rpm_limit)" };
        _tpm = new Option<long?>("--tpm", "--tpm-limit") { Description = $"Tokens (prompt + completion) per minute{across}, fleet-wide (tpm_limit)" };
        _parallel = new Option<long?>("--max-parallel") { Description = $"Requests in flight at once{across} (max_parallel_requests)" };
        _budget = new Option<decimal?>("--max-budget") { Description = $"The {whose}'s budget in money per --budget-duration (0: nothing may be spent)" };
        _period = new Option<string?>("--budget-duration") { Description = "Budget period: 1h, 1d, 30d, 1mo" };
    }

    public void AddTo(Command command)
    {
        command.Options.Add(_models);
        command.Options.Add(_rpm);
        command.Options.Add(_tpm);
        command.Options.Add(_parallel);
        command.Options.Add(_budget);
        command.Options.Add(_period);
    }

    /// <summary>Sets models, rpm_limit, tpm_limit, max_parallel_requests, max_budget and budget_duration where given.</summary>
    public void WriteTo(ParseResult parse, JsonObject body)
    {
        if (parse.GetValue(_models) is { Length: > 0 } list)
        {
            body["models"] = new JsonArray([.. list.SelectMany(m => m.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Select(m => (JsonNode?)m)]);
        }
        Set(body, "rpm_limit", parse.GetValue(_rpm));
        Set(body, "tpm_limit", parse.GetValue(_tpm));
        Set(body, "max_parallel_requests", parse.GetValue(_parallel));
        Set(body, "max_budget", parse.GetValue(_budget));
        Set(body, "budget_duration", parse.GetValue(_period));
    }

    /// <summary>Sets <paramref name="field"/> when a value was given.</summary>
    public static void Set(JsonObject body, string field, JsonNode? value)
    {
        if (value is not null)
        {
            body[field] = value;
        }
    }
}
