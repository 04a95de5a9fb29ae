namespace Sluice.Hosting.Metrics.Exposition;

/// <summary>Orders series by their label values, so every scrape lists them the same way.</summary>
internal sealed class LabelOrder : IComparer<string[]>
{
    public static LabelOrder Instance { get; } = new();

    public int Compare(string[]? x, string[]? y)
    {
        for (int i = 0; i < Math.Min(x!.Length, y!.Length); i++)
        {
            int c = string.CompareOrdinal(x[i], y[i]);
            if (c != 0)
            {
                return c;
            }
        }
        return x.Length.CompareTo(y.Length);
    }
}
