using Microsoft.AspNetCore.Http;
using Sluice.OpenAi;
using Sluice.Server.Hosting;

namespace Sluice.Server.Routes;

/// <summary>GET /v1/models: every served name of the model, with its context length (vLLM's max_model_len).</summary>
internal sealed class ModelsEndpoint(ServingContext serving)
{
    public Task HandleAsync(HttpContext http)
    {
        var engine = serving.RequireReady();
        long created = serving.Started.ToUnixTimeSeconds();
        var root = serving.Host.Model!.Format == "demo" ? "sluice-demo" : serving.Host.Model.Path;
        var cards = serving.Host.Names.Select(n => new ModelCard(n, created, "sluice", root, engine.MaxModelLen)).ToList();
        return Json.WriteAsync(http, new ModelList(cards), OpenAiJson.Web.ModelList);
    }
}
