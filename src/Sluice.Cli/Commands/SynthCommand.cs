using System.CommandLine;
using System.Globalization;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;

namespace Sluice.Cli.Commands;

/// <summary>`sluice model synth`: write a synthetic model (random weights, real shape and tokenizer).</summary>
internal static class SynthCommand
{
    public static Command Create()
    {
        var shape = new Option<string>("--shape") { Description = $"Named shape: {string.Join(", ", ModelShape.Named.Select(s => s.Name))}", DefaultValueFactory = _ => ModelShape.Tiny.Name };
        var type = new Option<string>("--type") { Description = $"Weight type: {string.Join(", ", WeightMix.All.Select(m => m.Name))}", DefaultValueFactory = _ => WeightMix.F16.Name };
        var output = new Option<string>("--output", "-o") { Description = "GGUF file (or, with --format hf, folder) to write", Required = true };
        var format = new Option<string>("--format") { Description = "gguf (one file) or hf (a Hugging Face folder: config.json, tokenizer.json, safetensors)", DefaultValueFactory = _ => "gguf" };
        var shardMib = new Option<int?>("--shard-mib") { Description = "With --format hf: split the safetensors into shards of at most this many MiB" };
        var seed = new Option<ulong>("--seed") { Description = "Random seed; the same seed writes the same bytes", DefaultValueFactory = _ => 0 };
        var vocab = new Option<string?>("--vocab") { Description = "GGUF file whose tokenizer.* metadata to copy (default: cl100k_base from the Microsoft.ML.Tokenizers data package)" };
        var arch = new Option<string?>("--arch") { Description = $"Architecture: {string.Join(", ", ModelShape.Architectures)}" };
        var embedding = new Option<int?>("--embedding-length") { Description = "Model width" };
        var blocks = new Option<int?>("--block-count") { Description = "Number of layers" };
        var heads = new Option<int?>("--head-count") { Description = "Attention heads" };
        var kvHeads = new Option<int?>("--head-count-kv") { Description = "Key/value heads" };
        var ffn = new Option<int?>("--feed-forward-length") { Description = "Feed-forward width" };
        var context = new Option<int?>("--context-length") { Description = "Context length" };
        var vocabSize = new Option<int?>("--vocab-size") { Description = "Embedding rows; the tokenizer is padded with unused tokens to this size" };
        var tied = new Option<bool>("--tied") { Description = "Share token_embd as the output matrix" };
        var untied = new Option<bool>("--untied") { Description = "Write a separate output.weight" };

        var cmd = new Command("synth", "Write a synthetic model: random weights with a real architecture, shape and tokenizer.")
        {
            shape, type, output, format, shardMib, seed, vocab, arch, embedding, blocks, heads, kvHeads, ffn, context, vocabSize, tied, untied,
        };
        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            return CliErrors.Run(parse, () =>
            {
                if (!ModelShape.TryGetNamed(parse.GetValue(shape)!, out var s))
                {
                    throw new CommandException($"unknown shape '{parse.GetValue(shape)}' (known: {string.Join(", ", ModelShape.Named.Select(n => n.Name))})");
                }
                if (!WeightMix.TryParse(parse.GetValue(type)!, out var mix))
                {
                    throw new CommandException($"unknown type '{parse.GetValue(type)}' (known: {string.Join(", ", WeightMix.All.Select(m => m.Name))})");
                }
                if (parse.GetValue(tied) && parse.GetValue(untied))
                {
                    throw new CommandException("--tied and --untied contradict each other");
                }
                var vocabFile = parse.GetValue(vocab);
                s = s with
                {
                    Architecture = parse.GetValue(arch) ?? s.Architecture,
                    EmbeddingLength = parse.GetValue(embedding) ?? s.EmbeddingLength,
                    BlockCount = parse.GetValue(blocks) ?? s.BlockCount,
                    HeadCount = parse.GetValue(heads) ?? s.HeadCount,
                    HeadCountKv = parse.GetValue(kvHeads) ?? s.HeadCountKv,
                    FeedForwardLength = parse.GetValue(ffn) ?? s.FeedForwardLength,
                    ContextLength = parse.GetValue(context) ?? s.ContextLength,
                    // A vocabulary file decides the vocabulary size unless one is given explicitly.
                    VocabSize = parse.GetValue(vocabSize) ?? (vocabFile != null ? null : s.VocabSize),
                    Tied = parse.GetValue(tied) || (!parse.GetValue(untied) && s.Tied),
                };
                var vocabulary = vocabFile != null ? SynthVocabulary.FromGguf(vocabFile) : SynthVocabulary.Cl100k();
                var options = new SynthesisOptions(s, mix, vocabulary) { Seed = parse.GetValue(seed) };
                var result = parse.GetValue(format) switch
                {
                    "gguf" => ModelSynthesizer.Write(options, parse.GetValue(output)!),
                    "hf" => HfFolderSynthesizer.Write(options, parse.GetValue(output)!, parse.GetValue(shardMib) * 1048576L),
                    var other => throw new CommandException($"unknown format '{other}' (known: gguf, hf)"),
                };
                stdout.Write(Describe(result));
                return 0;
            });
        });
        return cmd;
    }

    internal static string Describe(SynthesisResult result)
    {
        var plan = result.Plan;
        return string.Create(CultureInfo.InvariantCulture, $"""
            wrote {result.Path}
              shape:  {plan.Shape.Describe(plan.VocabSize)}
              type:   {plan.Mix.Name} ({plan.TypeSummary})
              vocab:  {plan.Vocabulary.Description}
              size:   {result.FileBytes:N0} bytes ({result.FileBytes / 1048576.0:F1} MiB), {plan.ParameterCount:N0} parameters
              time:   {result.Elapsed.TotalSeconds:F1} s

            """);
    }
}
