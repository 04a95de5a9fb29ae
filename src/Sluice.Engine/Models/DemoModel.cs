namespace Sluice.Engine.Models;

/// <summary>
/// The built-in demo model: a small llama trained on the King James Bible by tools/demo-model (its
/// report.json and NOTICE.md sit beside the file in Models/Demo), committed to the repository and
/// copied beside the assemblies by the build, so `sluice serve` runs with nothing downloaded. It is
/// loaded as any GGUF file is; only its name and description are its own.
/// </summary>
public static class DemoModel
{
    public const string Name = "sluice-demo";
    public const string FileName = "sluice-demo-kjv-q8_0.gguf";

    /// <summary>What it is and what it was trained on, for the start-up log and /v1/models.</summary>
    public const string Description = "the built-in demo model: a small llama (Q8_0) trained on the King James Bible (1611, Debian's bible-kjv-text); it writes verses in that English and knows nothing else";

    /// <summary>Where the build puts the file: demo/ beside the assemblies.</summary>
    public static string FilePath => Path.Combine(AppContext.BaseDirectory, "demo", FileName);

    public static LoadedModel Load()
    {
        string path = FilePath;
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"the built-in demo model {path} is missing: the build copies it from src/Sluice.Engine/Models/Demo; pass --model FILE.gguf instead", path);
        }
        var m = ModelLoader.Load(path);
        return new LoadedModel(m.Path, "demo", m.Config, m.Weights, m.Tokenizer, m) { Description = Description };
    }
}
