using Microsoft.AspNetCore.Http;
using Sluice.Hosting.Errors;
using Sluice.OpenAi;
using Sluice.Server.Hosting;

namespace Sluice.Server.Routes;

/// <summary>
/// GET /v1/models: every served name of the model, with its context length (vLLM's max_model_len) and, for
/// the built-in demo model, a description saying what it is and what it was trained on; GET
/// /v1/models/{id}: one of them, or 404 model_not_found.
/// </summary>
internal sealed class ModelsEndpoint(ServingContext serving)
{
    public Task HandleAsync(HttpContext http) => Json.WriteAsync(http, new ModelList(Cards()), OpenAiJson.Web.ModelList);

    public Task OneAsync(HttpContext http)
    {
        string id = http.Request.RouteValues["id"]?.ToString() ?? "";
        var card = Cards().FirstOrDefault(c => c.Id == id) ?? throw ApiException.ModelNotFound(id);
        return Json.WriteAsync(http, card, OpenAiJson.Web.ModelCard);
    }

    private List<ModelCard> Cards()
    {
        var engine = serving.RequireReady();
        long created = serving.Started.ToUnixTimeSeconds();
        var model = serving.Host.Model!;
        var root = model.Format == "demo" ? model.Name : model.Path;
        return [.. serving.Host.Names.Select(n => new ModelCard(n, created, "sluice", root, engine.MaxModelLen) { Description = model.Description })];
    }
}
