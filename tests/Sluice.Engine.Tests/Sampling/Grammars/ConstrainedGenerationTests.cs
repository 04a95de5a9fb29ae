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
