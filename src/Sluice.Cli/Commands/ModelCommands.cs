using System.CommandLine;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Models;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Quantization;

namespace Sluice.Cli.Commands;

/// <summary>`sluice model ...`: inspect and make model files.</summary>
internal static class ModelCommands
{
    public static Command Create()
    {
        var model = new Command("model", "Inspect, verify and synthesize model files.");
        model.Subcommands.Add(CreateInfo());
        model.Subcommands.Add(SynthCommand.Create());
        model.Subcommands.Add(ConvertCommand.Create());
        model.Subcommands.Add(VerifyCommand.Create());
        return model;
    }

    private static Command CreateInfo()
    {
        var file = new Argument<string>("path") { Description = "GGUF model file or Hugging Face model folder" };
        var loadStats = new Option<bool>("--load-stats") { Description = "Also load the model and report load time and resident memory before/after" };
        var quantization = new Option<string?>("--quantization") { Description = "With --load-stats: convert weights at load (q8_0, q4_0, ...)" };
        var cmd = new Command("info", "Print a model's architecture, shape, weight types and tokenizer (GGUF file or Hugging Face folder).") { file, loadStats, quantization };
        cmd.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var stdout = parse.InvocationConfiguration.Output;
            return CliErrors.Run(parse, () =>
            {
                if (Directory.Exists(path))
                {
                    stdout.Write(FolderDescription.Describe(path));
                }
                else
                {
                    using var gguf = GgufFile.Open(path);
                    stdout.Write(Describe(gguf));
                }
                if (parse.GetValue(loadStats))
                {
                    stdout.Write(LoadStats.Measure(path, LoadOptions(parse.GetValue(quantization))));
                }
                return 0;
            });
        });
        return cmd;
    }

    /// <summary>Load options from the --quantization value (a weight mix name such as q8_0 or q4_0).</summary>
    internal static ModelLoadOptions LoadOptions(string? quantization)
    {
        if (quantization == null)
        {
            return ModelLoadOptions.Default;
        }
        return WeightMix.TryParse(quantization, out var mix)
            ? new ModelLoadOptions { Quantization = mix }
            : throw new ArgumentException($"--quantization '{quantization}' is not supported: it converts F32/F16/BF16 weights at load to one of " +
                $"{string.Join(", ", WeightMix.All.Select(m => m.Name.ToLowerInvariant()))}; pre-quantized checkpoints (awq, gptq, bitsandbytes, fp8) are not loaded");
    }

    internal static string Describe(GgufFile gguf)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"file:          {gguf.FilePath}");
        sb.AppendLine($"size:          {gguf.FileSize:N0} bytes ({gguf.FileSize / 1048576.0:F1} MiB)");
        sb.AppendLine($"format:        GGUF v{gguf.Version}, {gguf.Tensors.Count} tensors, {gguf.Metadata.Count} metadata keys");
        sb.AppendLine($"architecture:  {gguf.GetString("general.architecture") ?? "(none)"}");
        long parameters = gguf.Tensors.Sum(t => t.ElementCount);
        sb.AppendLine($"parameters:    {parameters:N0}");
        var mix = gguf.Tensors.GroupBy(t => t.Type).OrderByDescending(g => g.Sum(t => t.ByteSize))
            .Select(g => $"{GgmlTypeInfo.Name(g.Key)} x{g.Count()} ({g.Sum(t => t.ByteSize) / 1048576.0:F1} MiB)");
        sb.AppendLine($"tensor types:  {string.Join(", ", mix)}");
        AppendShape(sb, gguf);
        AppendTokenizer(sb, gguf);
        return sb.ToString();
    }

    private static void AppendShape(System.Text.StringBuilder sb, GgufFile gguf)
    {
        var arch = gguf.GetString("general.architecture");
        long? Hp(string key) => arch == null ? null : gguf.GetInt($"{arch}.{key}");
        var width = Hp("embedding_length");
        var heads = Hp("attention.head_count");
        if (width == null || heads == null)
        {
            return;
        }
        var headDim = heads > 0 ? $" (head dim {width / heads})" : "";
        sb.AppendLine($"shape:         {width} wide, {Hp("block_count")} layers, {heads}/{Hp("attention.head_count_kv") ?? heads} heads{headDim}, " +
            $"ffn {Hp("feed_forward_length")}, context {Hp("context_length")}");
        var output = gguf.TryGetTensor("output.weight", out _) ? "separate output.weight" : "tied to token_embd";
        sb.AppendLine($"output:        {output}");
    }

    private static void AppendTokenizer(System.Text.StringBuilder sb, GgufFile gguf)
    {
        var tokens = gguf.GetArray<string>("tokenizer.ggml.tokens");
        if (tokens == null)
        {
            sb.AppendLine("tokenizer:     (none)");
            return;
        }
        var model = gguf.GetString("tokenizer.ggml.model") ?? "?";
        var pre = gguf.GetString("tokenizer.ggml.pre") ?? "default";
        var template = gguf.GetString("tokenizer.chat_template") != null ? "yes" : "no";
        sb.AppendLine($"vocab:         {tokens.Length:N0} tokens");
        sb.AppendLine($"tokenizer:     {model}, pre-tokenizer {pre}, chat template: {template}");
    }
}
