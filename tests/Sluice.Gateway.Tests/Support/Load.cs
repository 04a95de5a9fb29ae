using System.Collections.Concurrent;
using Sluice.Gateway.Forwarding;

namespace Sluice.Gateway.Tests.Support;

/// <summary>Steady closed-loop load: <c>clients</c> loops each sending requests one after another; every answer's status and backend kept.</summary>
public static class Load
{
    public sealed record Answer(int Status, string Backend, string Version, bool Complete);

    public static async Task<List<Answer>> RunAsync(HttpClient client, string model, int clients, int requestsPerClient, bool streamEvery3rd = false, int maxTokens = 2)
    {
        var answers = new ConcurrentBag<Answer>();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            for (int i = 0; i < requestsPerClient; i++)
            {
                answers.Add(await SendAsync(client, model, streamEvery3rd && i % 3 == 0, maxTokens));
            }
        })));
        return [.. answers];
    }

    /// <summary>Requests until <paramref name="stop"/> is cancelled.</summary>
    public static async Task<List<Answer>> UntilAsync(HttpClient client, string model, int clients, CancellationToken stop)
    {
        var answers = new ConcurrentBag<Answer>();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                answers.Add(await SendAsync(client, model, i % 2 == 0, 2));
            }
        })));
        return [.. answers];
    }

    private static async Task<Answer> SendAsync(HttpClient client, string model, bool stream, int maxTokens)
    {
        using var response = await client.PostAsync("/v1/completions", Requests.Completion(model, stream ? Math.Max(6, maxTokens) : maxTokens, stream));
        string body = await response.Content.ReadAsStringAsync();
        bool complete = stream ? body.TrimEnd().EndsWith("data: [DONE]", StringComparison.Ordinal) && !body.Contains("\"error\"", StringComparison.Ordinal)
            : body.Contains("\"usage\"", StringComparison.Ordinal);
        return new Answer((int)response.StatusCode, Requests.Header(response, AttemptTransformer.BackendHeader),
            Requests.Header(response, AttemptTransformer.VersionHeader), complete);
    }
}
