using System.Text.Json.Nodes;
using Sluice.Engine.Models.HuggingFace;
using Sluice.Engine.Tests.Support;
using Sluice.Engine.Tokenization;

namespace Sluice.Engine.Tests.Models.HuggingFace;

/// <summary>tokenizer_config.json, chat_template.jinja, generation_config.json, and the Metaspace spelling of SentencePiece pre-tokenization.</summary>
[Collection(HfFolderCollection.Name)]
public sealed class HfSideFilesTests(HfFolders folders)
{
    [SkippableFact]
    public void FromHuggingFace_MetaspacePreTokenizer_TokenizesAsThePrependReplaceNormalizer()
    {
        string written = folders.TokenizerFromVocab(TestTokenizers.LlamaSpm);
        string folder = folders.CopyOf(written);
        string path = Path.Combine(folder, "tokenizer.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["normalizer"] = null;
        json["pre_tokenizer"] = JsonNode.Parse("""{"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": false}""");
        File.WriteAllText(path, json.ToJsonString());
        var gguf = TestTokenizers.Vocab(TestTokenizers.LlamaSpm);
        var metaspace = Tokenizer.FromHuggingFace(folder);
        Assert.True(metaspace.Vocabulary.AddSpacePrefix);
        foreach (var (text, ids) in TestTokenizers.TestCases(TestTokenizers.LlamaSpm))
        {
            Assert.Equal(ids, metaspace.Encode(text, addSpecial: false));
        }
        Assert.Equal(gguf.Encode("Hello world", addSpecial: true), metaspace.Encode("Hello world", addSpecial: true));
    }

    [Fact]
    public void TokenizerConfig_NamedTemplatesAndTokenObjects_AreRead()
    {
        string folder = folders.NewFolder("tokcfg");
        File.WriteAllText(Path.Combine(folder, HfTokenizerConfig.FileName), """
            {"add_bos_token": true, "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "pad_token": null,
             "chat_template": [{"name": "default", "template": "{{ messages }}"}, {"name": "tool_use", "template": "{{ tools }}"}]}
            """);
        var config = HfTokenizerConfig.Read(folder);
        Assert.Equal(("<s>", "</s>", (string?)null, (bool?)true), (config.BosToken, config.EosToken, config.PadToken, config.AddBosToken));
        Assert.Equal(["default", "tool_use"], config.ChatTemplates.Keys);
        Assert.Equal("{{ messages }}", config.DefaultChatTemplate);

        File.WriteAllText(Path.Combine(folder, HfTokenizerConfig.ChatTemplateFileName), "{{ jinja }}");
        Assert.Equal("{{ jinja }}", HfTokenizerConfig.Read(folder).DefaultChatTemplate);
    }

    [Fact]
    public void GenerationConfig_EosListAndSamplingDefaults_AreRead()
    {
        string folder = folders.NewFolder("gencfg");
        File.WriteAllText(Path.Combine(folder, GenerationDefaults.FileName), """
            {"bos_token_id": 151643, "eos_token_id": [151645, 151643], "pad_token_id": 151643, "do_sample": true,
             "temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.05, "transformers_version": "4.37.0"}
            """);
        var g = GenerationDefaults.Read(folder)!;
        Assert.Equal([151645, 151643], g.EosTokenIds);
        Assert.Equal((true, 0.7, 0.8, 20, 1.05), (g.DoSample!.Value, g.Temperature!.Value, g.TopP!.Value, g.TopK!.Value, g.RepetitionPenalty!.Value));
        Assert.Equal("do_sample true, temperature 0.7, top_p 0.8, top_k 20, repetition_penalty 1.05", g.DescribeSampling());
        Assert.Null(GenerationDefaults.Read(folders.NewFolder("none")));
    }

    [SkippableFact]
    public void FromHuggingFace_ExtraEndOfGenerationIds_EndGeneration()
    {
        string folder = folders.CopyOf(folders.TokenizerFromVocab(TestTokenizers.LlamaBpe));
        var plain = Tokenizer.FromHuggingFace(folder);
        Assert.False(plain.IsEndOfGeneration(128010));
        var withExtra = Tokenizer.FromHuggingFace(folder, new HfTokenizerOptions { ExtraEndOfGenerationIds = [128010] });
        Assert.True(withExtra.IsEndOfGeneration(128010));
    }
}
