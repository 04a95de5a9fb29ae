using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace Sluice.Gateway.Tests.Support;

/// <summary>Gateway YAML with tenancy on over a <see cref="FaultyBackend"/>, and virtual keys made through the admin API.</summary>
public static class Tenants
{
    /// <summary>Models demo and other (answered at once) and slow (after 400 ms), all on <paramref name="backend"/>.</summary>
    public static string Config(Uri backend, string tenancy) => $"""
        models:
          - name: demo
            deployments:
              - url: {backend}
                model: ok
          - name: other
            deployments:
              - url: {backend}
                model: ok
          - name: slow
            deployments:
              - url: {backend}
                model: delay-400
        health:
          interval: 60s
        tenancy:
        {tenancy}
        """;

    /// <summary>POST /admin/keys with <paramref name="fields"/>: the answer (secret in "key", id in "id").</summary>
    public static async Task<JsonObject> CreateAsync(HttpClient admin, string fields)
    {
        using var response = await admin.PostAsync("/admin/keys", Requests.Json(fields));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    public static HttpRequestMessage Completion(string secret, string model, string path = "/v1/completions")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Requests.Completion(model) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        return request;
    }

    public static async Task<(int Status, string Body)> SendAsync(HttpClient client, HttpRequestMessage request)
    {
        using (request)
        {
            using var response = await client.SendAsync(request);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
    }
}
