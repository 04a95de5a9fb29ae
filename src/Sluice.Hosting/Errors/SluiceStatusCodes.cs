namespace Sluice.Hosting.Errors;

/// <summary>Status codes ASP.NET Core's <c>StatusCodes</c> does not name.</summary>
public static class SluiceStatusCodes
{
    /// <summary>499 (nginx's "client closed request"): the client went away before the answer; recorded, never sent.</summary>
    public const int ClientClosedRequest = 499;
}
