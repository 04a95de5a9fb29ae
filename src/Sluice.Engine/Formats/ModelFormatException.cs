namespace Sluice.Engine.Formats;

/// <summary>A model file (or folder) that cannot be used, with the path and the problem named.</summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string path, string problem)
        : base($"model file '{path}': {problem}")
    {
        FilePath = path;
        Problem = problem;
    }

    public ModelFormatException(string path, string problem, Exception inner)
        : base($"model file '{path}': {problem}", inner)
    {
        FilePath = path;
        Problem = problem;
    }

    /// <summary>The file that was being read.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it, without the path.</summary>
    public string Problem { get; }
}
