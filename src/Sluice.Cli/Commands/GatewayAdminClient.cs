using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Sluice.Cli.Commands;

/// <summary>
/// What `sluice gateway keys` and `sluice gateway teams` share: the --url, --master-key (or SLUICE_MASTER_KEY) and --json
/// options, one call to the gateway's admin API with its errors turned into one-line <see cref="CommandException"/>s, and
/// printing the answer as text or as the gateway's JSON.
/// </summary>
internal sealed class GatewayAdminClient(HttpMessageHandler? handler)
{
    private readonly Option<string> _url = new("--url") { Description = "The gateway, e.g. http://127.0.0.1:4000", DefaultValueFactory = _ => "http://127.0.0.1:4000" };
    private readonly Option<string?> _masterKey = new("--master-key") { Description = "The gateway's master key (or SLUICE_MASTER_KEY)" };
    private readonly Option<bool> _json = new("--json") { Description = "Print the gateway's JSON answer" };

    /// <summary>Adds --url, --master-key and --json to <paramref name="command"/>.</summary>
    public void AddOptions(Command command)
    {
        command.Options.Add(_url);
        command.Options.Add(_masterKey);
        command.Options.Add(_json);
    }

    /// <summary>Prints <paramref name="text"/>, or the gateway's answer as JSON under --json.</summary>
    public void Print(ParseResult parse, JsonNode answer, string text) =>
        parse.InvocationConfiguration.Output.WriteLine(parse.GetValue(_json) ? answer.ToJsonString() : text);

    /// <summary>The gateway's answer, a JSON object.</summary>
    public async Task<JsonObject> CallObjectAsync(ParseResult parse, HttpMethod method, string path, JsonObject? body, CancellationToken cancel) =>
        await CallAsync(parse, method, path, body, cancel) as JsonObject
        ?? throw new CommandException($"the gateway's answer to {method} {path} is not a JSON object");

    /// <summary>The gateway's answer, a JSON object or array.</summary>
    public async Task<JsonNode> CallAsync(ParseResult parse, HttpMethod method, string path, JsonObject? body, CancellationToken cancel)
    {
        string master = parse.GetValue(_masterKey) ?? (Environment.GetEnvironmentVariable("SLUICE_MASTER_KEY") is { Length: > 0 } fromEnvironment ? fromEnvironment : null)
            ?? throw new CommandException("the master key is needed: give --master-key or set SLUICE_MASTER_KEY");
        if (!Uri.TryCreate(parse.GetValue(_url), UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            throw new CommandException($"--url '{parse.GetValue(_url)}' is not an http(s) URL");
        }
        using var client = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        client.BaseAddress = url;
        client.Timeout = TimeSpan.FromSeconds(30);
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", master);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, cancel);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            throw new CommandException($"cannot reach the gateway at {url}: {e.Message}", "is it running, and is --url its address?");
        }
        using (response)
        {
            string text = await response.Content.ReadAsStringAsync(cancel);
            JsonNode? json = null;
            try
            {
                json = JsonNode.Parse(text);
            }
            catch (System.Text.Json.JsonException)
            {
            }
            if (response.IsSuccessStatusCode && json is JsonObject or JsonArray)
            {
                return json!;
            }
            string message = json is JsonObject && json["error"]?["message"] is JsonValue m ? m.ToString() : text;
            throw response.StatusCode switch
            {
                HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized => new CommandException($"the gateway refused the master key ({(int)response.StatusCode}): {message}",
                    "check --master-key / SLUICE_MASTER_KEY against the gateway's --master-key"),
                _ when !response.IsSuccessStatusCode => new CommandException($"the gateway answered {(int)response.StatusCode}: {message}"),
                _ => new CommandException($"the gateway's answer is not JSON: {text}"),
            };
        }
    }
}
