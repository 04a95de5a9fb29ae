using System.Text.Json.Serialization.Metadata;
using Sluice.OpenAi;

namespace Sluice.Server.Generation;

/// <summary>
/// What a generation route sends in an <see cref="Streaming.SseResponse{TChunk}"/>: its chunk type, and each chunk made with the
/// stream's id, creation time and model (OpenAI repeats them in every chunk).
/// </summary>
internal abstract class ChunkFactory<TChunk>(JsonTypeInfo<TChunk> type, string id, long created, string model, bool includeUsage)
{
    public JsonTypeInfo<TChunk> Type => type;

    /// <summary>stream_options.include_usage: a last chunk with no choices carries the usage (and the metrics).</summary>
    public bool IncludeUsage => includeUsage;

    protected string Id => id;
    protected long Created => created;
    protected string Model => model;

    /// <summary>The chunks sent before the first token (none unless the route says so).</summary>
    public virtual IEnumerable<TChunk> Opening() => [];

    /// <summary>The chunk of one token of one choice (the last of a choice carries its finish_reason).</summary>
    public abstract TChunk Token(ChoiceEvent e, RequestMetrics? metrics);

    /// <summary>The events of one token: one chunk, unless the route sends several (or none) per token.</summary>
    public virtual IEnumerable<TChunk> Tokens(ChoiceEvent e, RequestMetrics? metrics) => [Token(e, metrics)];

    /// <summary>The events after the last token of a stream that completed (none unless the route says so).</summary>
    public virtual IEnumerable<TChunk> Closing(GenerationSession session) => [];

    /// <summary>Whether the stream ends with <c>data: [DONE]</c>, as chat and completions do (the Responses API does not).</summary>
    public virtual bool SendsDone => true;

    /// <summary>The last chunk when <see cref="IncludeUsage"/>: no choices, the usage.</summary>
    public abstract TChunk Usage(Usage usage, RequestMetrics? metrics);
}
