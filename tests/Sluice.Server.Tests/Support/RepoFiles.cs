namespace Sluice.Server.Tests.Support;

/// <summary>Files of the repository the tests check (docs, deploy): found by walking up to Sluice.sln.</summary>
public static class RepoFiles
{
    public static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Sluice.sln")))
                {
                    return dir.FullName;
                }
            }
            throw new InvalidOperationException("repository root (Sluice.sln) not found above " + AppContext.BaseDirectory);
        }
    }

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));
}
