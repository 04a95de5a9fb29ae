using Sluice.Engine.Formats;

namespace Sluice.Engine.Models.HuggingFace;

/// <summary>
/// <c>generation_config.json</c>: the ids that end generation and the sampling settings the model's
/// authors recommend. Null where the file is silent; a server applies these only where a request is.
/// </summary>
public sealed record GenerationDefaults
{
    public const string FileName = "generation_config.json";

    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }
    public bool? DoSample { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public double? MinP { get; init; }
    public double? RepetitionPenalty { get; init; }
    public int? MaxNewTokens { get; init; }

    /// <summary>Reads the folder's generation_config.json, or null when it has none.</summary>
    public static GenerationDefaults? Read(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
        {
            return null;
        }
        using var doc = JsonFields.ParseFile(path);
        var f = new JsonFields(path, doc.RootElement);
        int? topK = f.OptionalNumber("top_k") is { } k ? (k >= 0 && k == Math.Floor(k) ? (int)k : throw new ModelFormatException(path, $"field 'top_k' must be a non-negative integer, got {k}")) : null;
        return new GenerationDefaults
        {
            BosTokenId = f.IdList("bos_token_id") is [int bos, ..] ? bos : null,
            EosTokenIds = f.IdList("eos_token_id"),
            PadTokenId = f.IdList("pad_token_id") is [int pad, ..] ? pad : null,
            DoSample = f.OptionalBool("do_sample"),
            Temperature = f.OptionalNumber("temperature"),
            TopP = f.OptionalNumber("top_p"),
            TopK = topK,
            MinP = f.OptionalNumber("min_p"),
            RepetitionPenalty = f.OptionalNumber("repetition_penalty"),
            MaxNewTokens = f.OptionalPositiveInt("max_new_tokens"),
        };
    }

    /// <summary>"temperature 0.7, top_p 0.8, top_k 20" for display; "none" when nothing is set.</summary>
    public string DescribeSampling()
    {
        var parts = new List<string>();
        void Add(string name, object? value)
        {
            if (value != null)
            {
                parts.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{name} {value}"));
            }
        }
        Add("do_sample", DoSample?.ToString().ToLowerInvariant());
        Add("temperature", Temperature);
        Add("top_p", TopP);
        Add("top_k", TopK);
        Add("min_p", MinP);
        Add("repetition_penalty", RepetitionPenalty);
        Add("max_new_tokens", MaxNewTokens);
        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }
}
