using System.Text.Json;
using Sluice.Engine.Templates;
using Sluice.Engine.Tests.Support;

namespace Sluice.Engine.Tests.Templates;

/// <summary>
/// The real chat templates of the major model families (Data/*.jinja, see Data/SOURCES.md) render every
/// conversation of Data/scenarios.json exactly as Python Jinja2 does under HF's settings (Data/goldens.json).
/// </summary>
public sealed class GoldenTemplateTests(GoldenTemplateTests.Fixture fixture) : IClassFixture<GoldenTemplateTests.Fixture>
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        using var goldens = JsonDocument.Parse(File.ReadAllText(Path.Combine(TemplateTestSupport.DataDirectory, "goldens.json")));
        foreach (var template in goldens.RootElement.EnumerateObject())
        {
            foreach (var scenario in template.Value.EnumerateObject())
            {
                data.Add(template.Name, scenario.Name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Render_GoldenConversation_MatchesPythonJinja2(string template, string scenario)
    {
        var golden = fixture.Goldens.GetProperty(template).GetProperty(scenario);
        var context = fixture.Context(template, scenario);
        var parsed = fixture.Templates[template];

        if (golden.TryGetProperty("output", out var output))
        {
            Assert.Equal(output.GetString(), parsed.Render(context));
            return;
        }

        var error = golden.GetProperty("error").GetString()!;
        var exception = Assert.Throws<TemplateException>(() => parsed.Render(context));
        if (error.StartsWith('!'))
        {
            Assert.NotEqual(TemplateErrorKind.Raised, exception.Kind);
        }
        else
        {
            Assert.Equal(TemplateErrorKind.Raised, exception.Kind);
            Assert.Equal(error, exception.Reason);
        }
    }

    [Fact]
    public void DataFolder_EveryTemplate_HasGoldens()
    {
        var files = Directory.GetFiles(TemplateTestSupport.DataDirectory, "*.jinja").Select(Path.GetFileNameWithoutExtension).Order();
        Assert.Equal(files, fixture.Templates.Keys.Order());
    }

    /// <summary>Parses each template once for the whole class and reads the scenario definitions.</summary>
    public sealed class Fixture : IDisposable
    {
        private readonly JsonDocument _scenarios;
        private readonly JsonDocument _goldens;

        public Fixture()
        {
            _scenarios = JsonDocument.Parse(File.ReadAllText(Path.Combine(TemplateTestSupport.DataDirectory, "scenarios.json")));
            _goldens = JsonDocument.Parse(File.ReadAllText(Path.Combine(TemplateTestSupport.DataDirectory, "goldens.json")));
            Templates = _scenarios.RootElement.GetProperty("templates").EnumerateObject().ToDictionary(
                t => t.Name,
                t => ChatTemplate.Parse(File.ReadAllText(Path.Combine(TemplateTestSupport.DataDirectory, t.Value.GetProperty("file").GetString()!))));
        }

        public IReadOnlyDictionary<string, ChatTemplate> Templates { get; }

        public JsonElement Goldens => _goldens.RootElement;

        public ChatTemplateContext Context(string template, string scenarioName)
        {
            var tokens = _scenarios.RootElement.GetProperty("templates").GetProperty(template);
            var scenario = _scenarios.RootElement.GetProperty("scenarios").EnumerateArray()
                .Single(s => s.GetProperty("name").GetString() == scenarioName);
            return new ChatTemplateContext
            {
                Messages = [.. scenario.GetProperty("messages").EnumerateArray().Select(ScenarioMessages.ToChatMessage)],
                AddGenerationPrompt = scenario.TryGetProperty("add_generation_prompt", out var prompt) && prompt.GetBoolean(),
                BosToken = tokens.GetProperty("bos").GetString(),
                EosToken = tokens.GetProperty("eos").GetString(),
                ToolsJson = scenario.TryGetProperty("tools", out var tools) ? tools.GetRawText() : null,
                DocumentsJson = scenario.TryGetProperty("documents", out var documents) ? documents.GetRawText() : null,
                Extra = scenario.TryGetProperty("extra", out var extra)
                    ? extra.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone())
                    : new Dictionary<string, object?>(),
                Clock = FixedClock.September15,
            };
        }

        public void Dispose()
        {
            _scenarios.Dispose();
            _goldens.Dispose();
        }
    }
}
