namespace Sluice.Gateway.Tenancy;

/// <summary>
/// A key's spend in its current budget period, as the admin API shows it (LiteLLM's `spend`). The spend pipeline
/// registers its own; until then <see cref="NoSpendReader"/> answers 0.
/// </summary>
public interface ISpendReader
{
    ValueTask<decimal> SpendAsync(VirtualKey key, CancellationToken cancellationToken);
}

/// <summary>No spend recorded: 0.</summary>
public sealed class NoSpendReader : ISpendReader
{
    public ValueTask<decimal> SpendAsync(VirtualKey key, CancellationToken cancellationToken) => ValueTask.FromResult(0m);
}
