using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Sluice.OpenAi;

namespace Sluice.Gateway.Routing;

/// <summary>GET /v1/models: the public model names of the configuration in service, those the caller's virtual key may call (max_model_len 0: the gateway does not know it).</summary>
internal sealed class ModelsEndpoint(Router router, TimeProvider time)
{
    public async Task HandleAsync(HttpContext context)
    {
        long created = time.GetUtcNow().ToUnixTimeSeconds();
        var key = context.Features.Get<Tenancy.VirtualKey>(); // a virtual key sees only the models it (and its team) may call
        var team = context.Features.Get<Tenancy.Teams.Team>();
        var list = new ModelList([.. router.Snapshot.Models.Keys.Where(name => (key is null || key.Allows(name)) && (team is null || team.Allows(name))).Order(StringComparer.Ordinal).Select(name => new ModelCard(name, created, "sluice-gateway", name, MaxModelLen: 0))]);
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(list, OpenAiJson.Web.ModelList));
    }
}
