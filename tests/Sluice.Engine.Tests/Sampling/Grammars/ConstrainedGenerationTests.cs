using System.Text;
using System.Text.Json;
using Sluice.Engine.Sampling;
using Sluice.Engine.Sampling.Grammars;
using Sluice.Engine.Serving;
using Sluice.Engine.Tests.Support;
using static Sluice.Engine.Tests.Support.EngineTestKit;

namespace Sluice.Engine.Tests.Sampling.Grammars;

/// <summary>The tiny random-weight model under a grammar: whatever it would say, what it says is valid.</summary>
public sealed class ConstrainedGenerationTests
{
    private const string Bounded = """
        {"type":"object","properties":{"color":{"enum":["red","green","blue"]},"ok":{"type":"boolean"},
         "none":{"type":"null"},"pair":{"type":"array","items":{"enum":[1,2,"é"]},"minItems":1,"maxItems":2}},
         "required":["color","ok","pair"],"additionalProperties":false}
        """;

    private static GenerationRequest Request(int[] prompt, GrammarMatcher grammar, int maxTokens, ulong seed, int n = 1) => new()
    {
        Id = $"s{seed}",
        PromptTokens = prompt,
        Sampling = new SamplingParams { Temperature = 1, MaxTokens = maxTokens, Seed = seed, Grammar = grammar, N = n },
    };

    [Fact]
    public async Task Generate_BoundedSchemaConcurrentSeeds_EveryOutputValidAndStopped()
    {
        using var model = TestModels.LoadTiny();
        var matcher = new GrammarMatcher(JsonSchemaCompiler.Compile(Bounded), TokenTrie.For(model.Tokenizer));
        using var engine = new LlmEngine(model, Options(maxSeqs: 16));
        var prompt = Prompt(model, "Answer in JSON:");
        var handles = Enumerable.Range(0, 12).Select(i => engine.Submit(Request(prompt, matcher, 200, (ulong)i, n: i % 3 + 1))).ToArray();
        foreach (var handle in handles)
        {
            foreach (var (_, output) in await CollectAll(handle))
            {
                Assert.Equal(FinishReason.Stop, output.Finish);
                Assert.True(matcher.Accepts(Encoding.UTF8.GetBytes(output.Text)), output.Text);
                using var doc = JsonDocument.Parse(output.Text);
                Assert.Contains(doc.RootElement.GetProperty("color").GetString(), new[] { "red", "green", "blue" });
            }
        }
    }

    [Fact]
    public async Task Submit_ResumesOutput_TheGrammarAndSamplerGoOnAfterTheContinuedTokens_AsTheUnbrokenRun()
    {
        using var model = TestModels.LoadTiny();
        var matcher = new GrammarMatcher(JsonSchemaCompiler.Compile(Bounded), TokenTrie.For(model.Tokenizer));
        using var engine = new LlmEngine(model, Options());
        var prompt = Prompt(model, "Answer in JSON:");
        var whole = await Collect(engine.Submit(Request(prompt, matcher, 200, 9)));
        Assert.Equal(FinishReason.Stop, whole.Finish);
        int cut = whole.Tokens.Count / 2;
        Assert.True(cut > 2, whole.Text);
        // the first half is output already sent: the grammar's place, the sampler's draws and the detokenizer resume after it
        var rest = await Collect(engine.Submit(new GenerationRequest
        {
            Id = "resumed",
            PromptTokens = [.. prompt, .. whole.Tokens.Take(cut)],
            Sampling = new SamplingParams { Temperature = 1, MaxTokens = 200, Seed = 9, Grammar = matcher, ContinuedTokens = cut },
            ResumesOutput = true,
        }));
        Assert.Equal(whole.Tokens.Skip(cut), rest.Tokens);
        var detokenizer = model.Tokenizer.CreateDetokenizer(startOfSequence: false);
        string before = string.Concat(whole.Tokens.Take(cut).Select(detokenizer.Push));
        Assert.Equal(whole.Text, before + rest.Text);
        // continued tokens the grammar does not allow (not JSON) cannot be resumed after: refused at submit
        var refused = Assert.Throws<RequestRejectedException>(() => engine.Submit(new GenerationRequest
        {
            Id = "bad",
            PromptTokens = [.. prompt, .. model.Tokenizer.Encode("nope", addSpecial: false)],
            Sampling = new SamplingParams { Temperature = 1, MaxTokens = 20, Seed = 9, Grammar = matcher, ContinuedTokens = model.Tokenizer.Encode("nope", addSpecial: false).Length },
            ResumesOutput = true,
        }));
        Assert.Equal(EngineRejection.InvalidRequest, refused.Reason);
    }

    private const string Keywords = """
        {"type":"object","properties":{"id":{"type":"string","format":"uuid"},"day":{"type":"string","format":"date"},
         "ip":{"type":"string","format":"ipv4"},"code":{"type":"string","pattern":"^[A-Z]{3}-\\d{2}$"},
         "age":{"type":"integer","minimum":18,"maximum":99},"score":{"type":"number","minimum":0,"maximum":1},
         "tags":{"type":"array","items":{"enum":["a","b","c"]},"uniqueItems":true},
         "shape":{"oneOf":[{"type":"string","maxLength":4},{"type":"integer","exclusiveMinimum":0}]}},
         "required":["id","day","ip","code","age","score","tags","shape"],"additionalProperties":false}
        """;

    [Fact]
    public async Task Generate_FormatPatternBoundsOneOfUniqueItems_EveryOutputValidByIndependentChecks()
    {
        using var model = TestModels.LoadTiny();
        var matcher = new GrammarMatcher(JsonSchemaCompiler.Compile(Keywords), TokenTrie.For(model.Tokenizer));
        using var engine = new LlmEngine(model, Options(maxSeqs: 8));
        var prompt = Prompt(model, "A record:");
        var handles = Enumerable.Range(0, 6).Select(i => engine.Submit(Request(prompt, matcher, 1000, (ulong)(100 + i)))).ToArray();
        foreach (var handle in handles)
        {
            var output = await Collect(handle);
            Assert.Equal(FinishReason.Stop, output.Finish);
            using var doc = JsonDocument.Parse(output.Text);
            var r = doc.RootElement;
            Assert.True(Guid.TryParseExact(r.GetProperty("id").GetString(), "D", out _), output.Text);
            Assert.True(DateOnly.TryParseExact(r.GetProperty("day").GetString(), "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.None, out _), output.Text);
            var ip = r.GetProperty("ip").GetString()!.Split('.');
            Assert.True(ip.Length == 4 && ip.All(o => int.TryParse(o, out int b) && b is >= 0 and <= 255 && o == b.ToString(System.Globalization.CultureInfo.InvariantCulture)), output.Text);
            Assert.Matches("^[A-Z]{3}-[0-9]{2}$", r.GetProperty("code").GetString());
            Assert.InRange(r.GetProperty("age").GetInt32(), 18, 99);
            Assert.InRange(r.GetProperty("score").GetDouble(), 0, 1);
            var tags = r.GetProperty("tags").EnumerateArray().Select(t => t.GetString()).ToList();
            Assert.Equal(tags.Count, tags.Distinct().Count());
            var shape = r.GetProperty("shape");
            Assert.True(shape.ValueKind == JsonValueKind.String ? shape.GetString()!.Length <= 4 : System.Text.RegularExpressions.Regex.IsMatch(shape.GetRawText(), "^[1-9][0-9]*$"), output.Text);
        }
    }

    [Fact]
    public async Task Generate_MaxTokensMidObject_FinishesLengthWithAViablePrefix()
    {
        using var model = TestModels.LoadTiny();
        var matcher = new GrammarMatcher(JsonSchemaCompiler.Compile(Bounded), TokenTrie.For(model.Tokenizer));
        using var engine = new LlmEngine(model, Options());
        var output = await Collect(engine.Submit(Request(Prompt(model, "x"), matcher, 2, 7)));
        Assert.Equal(FinishReason.Length, output.Finish);
        var state = matcher.Step(matcher.Start, Encoding.UTF8.GetBytes(output.Text));
        Assert.NotNull(state);
        Assert.False(state.IsAccepting);
    }

    [Fact]
    public async Task Generate_GreedyConstrained_SameTokensAloneAndInABatch()
    {
        using var model = TestModels.LoadTiny();
        var matcher = new GrammarMatcher(JsonGrammar.AnyObject(), TokenTrie.For(model.Tokenizer));
        var prompt = Prompt(model, "{");
        GenerationRequest Greedy(string id) => new()
        {
            Id = id,
            PromptTokens = prompt,
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = 24, Grammar = matcher },
        };
        using var engine = new LlmEngine(model, Options());
        var alone = await Collect(engine.Submit(Greedy("a")));
        var batch = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => Collect(engine.Submit(Greedy($"b{i}")))));
        Assert.All(batch, b => Assert.Equal(alone.Tokens, b.Tokens));
        Assert.NotNull(matcher.Step(matcher.Start, Encoding.UTF8.GetBytes(alone.Text)));
    }
}
