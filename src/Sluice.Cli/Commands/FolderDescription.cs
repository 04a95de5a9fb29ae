using System.Text;
using Sluice.Engine.Formats.SafeTensors;
using Sluice.Engine.Models.HuggingFace;
using Sluice.Engine.Tokenization;

namespace Sluice.Cli.Commands;

/// <summary>`sluice model info DIR`: what a Hugging Face folder holds, in the layout used for GGUF files.</summary>
internal static class FolderDescription
{
    public static string Describe(string folder)
    {
        var config = HfConfigReader.Read(Path.Combine(folder, HfConfig.FileName));
        var c = config.Model;
        var sb = new StringBuilder();
        sb.AppendLine($"folder:        {folder}");
        using (var checkpoint = SafeTensorsCheckpoint.Open(folder))
        {
            long bytes = checkpoint.Shards.Sum(s => s.FileSize);
            string layout = checkpoint.IndexPath == null ? "1 safetensors file" : $"{checkpoint.Shards.Count} safetensors shards + {SafeTensorsIndex.FileName}";
            sb.AppendLine($"size:          {bytes:N0} bytes ({bytes / 1048576.0:F1} MiB)");
            sb.AppendLine($"format:        Hugging Face folder, {layout}, {checkpoint.TensorCount} tensors");
            sb.AppendLine($"architecture:  {c.Architecture} ({config.ArchitectureClass}{(config.TorchDtype != null ? ", " + config.TorchDtype : "")})");
            sb.AppendLine($"parameters:    {checkpoint.Tensors.Sum(t => t.Info.ElementCount):N0}");
            var mix = checkpoint.Tensors.GroupBy(t => t.Info.DType).OrderByDescending(g => g.Sum(t => t.Info.ByteSize))
                .Select(g => $"{g.Key} x{g.Count()} ({g.Sum(t => t.Info.ByteSize) / 1048576.0:F1} MiB)");
            sb.AppendLine($"tensor types:  {string.Join(", ", mix)}");
        }
        sb.AppendLine($"shape:         {c.EmbeddingLength} wide, {c.BlockCount} layers, {c.HeadCount}/{c.HeadCountKv} heads (head dim {c.HeadDim}), ffn {c.FeedForwardLength}, context {c.ContextLength}");
        sb.AppendLine($"rope:          theta {c.RopeFreqBase}, scaling {config.RopeScalingDescription}, rotate-half pairs (loaded as NeoX)");
        sb.AppendLine($"output:        {(config.TieWordEmbeddings ? "tied to embed_tokens" : "separate lm_head.weight")}");
        AppendTokenizer(sb, folder, config);
        var generation = GenerationDefaults.Read(folder);
        if (generation != null)
        {
            sb.AppendLine($"generation:    eos {string.Join(", ", generation.EosTokenIds)}; sampling {generation.DescribeSampling()}");
        }
        return sb.ToString();
    }

    private static void AppendTokenizer(StringBuilder sb, string folder, HfConfig config)
    {
        var vocab = Vocabulary.FromHuggingFace(folder, new HfTokenizerOptions
        {
            VocabSize = config.Model.VocabSize,
            FallbackBosId = config.BosTokenId,
            FallbackEosIds = config.EosTokenIds,
        });
        var templates = HfTokenizerConfig.Read(folder).ChatTemplates.Keys.ToList();
        string kind = vocab.Kind == TokenizerKind.Spm ? "SentencePiece BPE" : $"byte-level BPE, pre-tokenizer {vocab.PreTokenizerName}";
        string Token(int id) => id >= 0 ? $"{id} {vocab.Text(id)}" : "none";
        sb.AppendLine($"vocab:         {vocab.Count:N0} tokens");
        sb.AppendLine($"tokenizer:     {kind}, chat template: {(templates.Count == 0 ? "no" : "yes (" + string.Join(", ", templates) + ")")}");
        sb.AppendLine($"special:       BOS {Token(vocab.BosId)}{(vocab.AddBos ? " (added)" : "")}, EOS {Token(vocab.EosId)}");
    }
}
