using System.Collections.Concurrent;
using Sluice.Engine.Formats.Gguf;
using Sluice.Engine.Formats.SafeTensors;
using Sluice.Engine.Models.HuggingFace.Conversion;

namespace Sluice.Engine.Tests.Support;

/// <summary>
/// Hugging Face folders written from the conformance GGUF models (checkpoint names, rotate-half q/k
/// order, tokenizer.json from the same vocabulary), made once per test run under the temp folder and
/// deleted afterwards.
/// </summary>
public sealed class HfFolders : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sluice-hf-tests-" + Guid.NewGuid().ToString("N"));
    private readonly ConcurrentDictionary<string, Lazy<string>> _folders = new();

    /// <summary>The folder for a conformance model written as <paramref name="dtype"/>, optionally sharded.</summary>
    public string FromConformance(string model, SafeTensorsDType dtype, long? maxShardBytes = null)
    {
        string gguf = Conformance.Model(model + ".gguf");
        string name = $"{model}-{dtype}" + (maxShardBytes is { } m ? $"-shards{m}" : "");
        return _folders.GetOrAdd(name, n => new Lazy<string>(() =>
        {
            string folder = Path.Combine(_root, n);
            using var file = GgufFile.Open(gguf);
            HfFolderWriter.Write(file, folder, new HfExportOptions { DType = dtype, MaxShardBytes = maxShardBytes, MaxDegreeOfParallelism = 2 });
            return folder;
        })).Value;
    }

    /// <summary>tokenizer.json and tokenizer_config.json written from one of the conformance vocab files.</summary>
    public string TokenizerFromVocab(string vocabFile) => _folders.GetOrAdd("tok-" + vocabFile, n => new Lazy<string>(() =>
    {
        string folder = Path.Combine(_root, n);
        Directory.CreateDirectory(folder);
        using var file = GgufFile.Open(Conformance.Tokenizer(vocabFile));
        HfTokenizerJsonWriter.Write(file, folder);
        return folder;
    })).Value;

    /// <summary>A fresh empty folder for a test to fill.</summary>
    public string NewFolder(string name)
    {
        string folder = Path.Combine(_root, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>A copy of <paramref name="folder"/> that a test may damage.</summary>
    public string CopyOf(string folder)
    {
        string copy = NewFolder(Path.GetFileName(folder));
        foreach (var f in Directory.GetFiles(folder))
        {
            File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        }
        return copy;
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class HfFolderCollection : ICollectionFixture<HfFolders>
{
    public const string Name = "Hugging Face folders";
}
