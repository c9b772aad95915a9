namespace Lab.Tests.Support;

/// <summary>
/// Marks a fixture (or one test) that starts real processes, etcd, a browser, the PowerShell engine or
/// namespaces: category <c>Slow</c>, which the inner loop leaves out
/// (<c>dotnet test Lab.Tests --filter TestCategory!=Slow</c>; plain <c>dotnet test</c> runs everything).
/// </summary>
/// <remarks>
/// Hard to forget: <see cref="TestProgressAttribute"/> fails any test outside this category that
/// starts a process, in every run, and says to add <c>[Slow]</c>.
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class SlowAttribute : CategoryAttribute
{
    public const string Category = "Slow";

    public SlowAttribute()
        : base(Category)
    {
    }
}
