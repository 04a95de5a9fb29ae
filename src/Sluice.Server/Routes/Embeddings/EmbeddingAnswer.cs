using System.Buffers.Binary;
using Sluice.OpenAi;
using Sluice.Server.Generation;

namespace Sluice.Server.Routes.Embeddings;

/// <summary>/v1/embeddings' answer: each input's vector in input order, as floats or base64 (little-endian float32), and usage.</summary>
internal sealed class EmbeddingAnswer(GenerationJob job, bool base64) : AnswerBuilder<EmbeddingResponse>(job, OpenAiJson.Web.EmbeddingResponse)
{
    private readonly float[]?[] _vectors = new float[job.Prompts.Count][];

    protected override void OnEnd(ChoiceEvent e)
    {
        if (e.Event.Embedding is { } v)
        {
            _vectors[e.Prompt] = v;
        }
    }

    public override EmbeddingResponse Build(GenerationSession session)
    {
        var data = new List<EmbeddingItem>(_vectors.Length);
        for (int i = 0; i < _vectors.Length; i++)
        {
            var v = _vectors[i] ?? throw new InvalidOperationException($"input {i} ended without an embedding");
            data.Add(new EmbeddingItem("embedding", i, base64 ? Base64(v) : v));
        }
        return new EmbeddingResponse("list", data, Job.Model, new EmbeddingUsage(session.PromptTokens, session.PromptTokens));
    }

    /// <summary>The float32s' little-endian bytes in base64, as OpenAI sends them (numpy's frombuffer reads them back).</summary>
    public static string Base64(float[] v)
    {
        var bytes = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), v[i]);
        }
        return Convert.ToBase64String(bytes);
    }
}
