namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>A key's spend in its current budget period, from the spend log (LiteLLM's `spend` on /key/info); 0 with spend off.</summary>
public sealed class KeySpendReader(SpendService spend, TimeProvider time) : ISpendReader
{
    public async ValueTask<decimal> SpendAsync(VirtualKey key, CancellationToken cancellationToken)
    {
        if (spend.Store is not { } store)
        {
            return 0m;
        }
        await spend.FlushAsync();
        var period = BudgetPeriod.Current(key.BudgetDuration, key.CreatedAt, time.GetUtcNow());
        return Price.ToMoney((await store.KeyTotalsAsync(key.Id, period.Start, cancellationToken)).SpendPico);
    }
}
