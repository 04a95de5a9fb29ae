using System.Buffers.Binary;
using System.Text.Json;
using Sluice.Engine.Serving;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Routes.Embeddings;

public sealed class EmbeddingsEndpointTests
{
    private static float[] Floats(JsonElement embedding) => [.. embedding.EnumerateArray().Select(x => x.GetSingle())];

    private static float[] FromBase64(string text)
    {
        var bytes = Convert.FromBase64String(text);
        var v = new float[bytes.Length / 4];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
        }
        return v;
    }

    /// <summary>The vector straight from the engine for the same token ids: what the route must return unchanged.</summary>
    private static async Task<float[]> EngineVector(TestServer t, int[] ids, EmbeddingPooling pooling)
    {
        var handle = t.Engine.Submit(new GenerationRequest { Id = "ref", PromptTokens = ids, Embedding = new EmbeddingSpec(pooling) });
        float[]? v = null;
        await foreach (var ev in handle.Events.ReadAllAsync())
        {
            v = ev.Embedding ?? v;
        }
        return v!;
    }

    private static int[] Tokens(TestServer t, string text) => t.Server.Host.Model!.Tokenizer.Encode(text, addSpecial: true, parseSpecial: true);

    [Theory]
    [InlineData(EmbeddingPooling.Last)]
    [InlineData(EmbeddingPooling.Mean)]
    public async Task Embeddings_String_EqualsTheEnginesPooledHiddenState(EmbeddingPooling pooling)
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { EmbeddingPooling = pooling });
        var (status, body, _) = await t.PostJsonAsync("/v1/embeddings", """{"input": "In the beginning God created the heaven"}""");
        Assert.Equal(200, status);
        Assert.Equal("list", body.GetProperty("object").GetString());
        var item = body.GetProperty("data")[0];
        Assert.Equal("embedding", item.GetProperty("object").GetString());
        Assert.Equal(0, item.GetProperty("index").GetInt32());
        var ids = Tokens(t, "In the beginning God created the heaven");
        Assert.Equal(await EngineVector(t, ids, pooling), Floats(item.GetProperty("embedding")));
        Assert.Equal(ids.Length, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(ids.Length, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.Equal(t.Server.Host.Model!.Config.EmbeddingLength, item.GetProperty("embedding").GetArrayLength());
    }

    [Fact]
    public async Task Embeddings_Batch_SameVectorsAsOneByOneInInputOrder()
    {
        await using var t = await TestServer.StartAsync(new ServerOptions { EmbeddingPooling = EmbeddingPooling.Mean });
        string[] inputs = ["first", "a second, longer input of several words", "third one", "and the fourth"];
        var (status, batch, _) = await t.PostJsonAsync("/v1/embeddings", JsonSerializer.Serialize(new { input = inputs }));
        Assert.Equal(200, status);
        int tokens = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            var (_, alone, _) = await t.PostJsonAsync("/v1/embeddings", JsonSerializer.Serialize(new { input = inputs[i] }));
            Assert.Equal(i, batch.GetProperty("data")[i].GetProperty("index").GetInt32());
            Assert.Equal(Floats(alone.GetProperty("data")[0].GetProperty("embedding")), Floats(batch.GetProperty("data")[i].GetProperty("embedding")));
            tokens += alone.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        }
        Assert.Equal(tokens, batch.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        await t.WaitForAllBlocksFreeAsync();
    }

    [Fact]
    public async Task Embeddings_TokenIdsAndArraysOfThem_EqualTheTextsVectors()
    {
        await using var t = await TestServer.StartAsync();
        var a = Tokens(t, "the LORD said");
        var b = Tokens(t, "unto Moses");
        var (_, text, _) = await t.PostJsonAsync("/v1/embeddings", JsonSerializer.Serialize(new { input = new[] { "the LORD said", "unto Moses" } }));
        var (s1, one, _) = await t.PostJsonAsync("/v1/embeddings", JsonSerializer.Serialize(new { input = a }));
        var (s2, many, _) = await t.PostJsonAsync("/v1/embeddings", JsonSerializer.Serialize(new { input = new[] { a, b } }));
        Assert.Equal(200, s1);
        Assert.Equal(200, s2);
        Assert.Equal(Floats(text.GetProperty("data")[0].GetProperty("embedding")), Floats(one.GetProperty("data")[0].GetProperty("embedding")));
        Assert.Equal(Floats(text.GetProperty("data")[1].GetProperty("embedding")), Floats(many.GetProperty("data")[1].GetProperty("embedding")));
        Assert.Equal(a.Length + b.Length, many.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task Embeddings_Base64_DecodesToTheFloatVector()
    {
        await using var t = await TestServer.StartAsync();
        var (_, floats, _) = await t.PostJsonAsync("/v1/embeddings", """{"input": "light", "encoding_format": "float"}""");
        var (status, packed, _) = await t.PostJsonAsync("/v1/embeddings", """{"input": "light", "encoding_format": "base64"}""");
        Assert.Equal(200, status);
        var encoded = packed.GetProperty("data")[0].GetProperty("embedding");
        Assert.Equal(JsonValueKind.String, encoded.ValueKind);
        Assert.Equal(Floats(floats.GetProperty("data")[0].GetProperty("embedding")), FromBase64(encoded.GetString()!));
    }

    [Theory]
    [InlineData("""{"input": ""}""", "input", "empty")]
    [InlineData("""{"input": []}""", "input", "empty")]
    [InlineData("""{"input": ["a", ""]}""", "input", "input[1]")]
    [InlineData("""{"input": [[]]}""", "input", "input[0]")]
    [InlineData("""{}""", "input", "required")]
    [InlineData("""{"input": 5}""", "input", "array of token ids")]
    [InlineData("""{"input": ["a", [1]]}""", "input", "mix")]
    [InlineData("""{"input": [999999]}""", "input", "vocabulary")]
    [InlineData("""{"input": "a", "dimensions": 8}""", "dimensions", "dimensions")]
    [InlineData("""{"input": "a", "encoding_format": "int8"}""", "encoding_format", "base64")]
    public async Task Embeddings_BadInput_400NamingTheField(string json, string param, string says)
    {
        await using var t = await TestServer.StartAsync();
        var (status, body, _) = await t.PostJsonAsync("/v1/embeddings", json);
        Assert.Equal(400, status);
        var error = body.GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Contains(says, error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Embeddings_InputLongerThanTheContext_400NamingTheLimit()
    {
        await using var t = await TestServer.StartAsync(engine: TestServer.DefaultEngine with { MaxModelLen = 32 });
        var ids = Enumerable.Repeat(7, 33).ToArray();
        var (status, body, _) = await t.PostJsonAsync("/v1/embeddings", JsonSerializer.Serialize(new { input = ids }));
        Assert.Equal(400, status);
        Assert.Equal("input", body.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains("maximum context length is 32", body.GetProperty("error").GetProperty("message").GetString());
        var (okStatus, _, _) = await t.PostJsonAsync("/v1/embeddings", JsonSerializer.Serialize(new { input = ids[..32] }));
        Assert.Equal(200, okStatus); // the whole context may be embedded: nothing is generated after it
        var (textStatus, text, _) = await t.PostJsonAsync("/v1/embeddings", JsonSerializer.Serialize(new { input = string.Concat(Enumerable.Repeat("word ", 200)) }));
        Assert.Equal(400, textStatus);
        Assert.Equal("input", text.GetProperty("error").GetProperty("param").GetString());
    }
}
