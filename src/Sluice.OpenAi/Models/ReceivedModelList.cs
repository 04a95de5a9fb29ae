namespace Sluice.OpenAi;

/// <summary>GET /v1/models as a client reads it from any OpenAI-compatible server: only the names, whatever else a card holds.</summary>
public sealed record ReceivedModelList
{
    public List<ReceivedModel>? Data { get; init; }
}

public sealed record ReceivedModel
{
    public string? Id { get; init; }
}
