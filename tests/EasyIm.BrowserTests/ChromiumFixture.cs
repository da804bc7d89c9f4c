using Microsoft.Playwright;

namespace EasyIm.BrowserTests;

/// <summary>
/// One headless Chromium for the test run: the system's <c>chromium</c> (Debian's package), driven by
/// Playwright. Playwright never downloads a browser here. Without Chromium the tests are skipped with
/// the reason, and fail instead where <c>EASYIM_REQUIRE_INFRA=1</c> (CI, which installs it).
/// </summary>
public sealed class ChromiumFixture : IAsyncLifetime
{
    public const string ExecutableVariable = "EASYIM_TEST_CHROMIUM";
    private static readonly string[] Names = ["chromium", "chromium-browser"];

    private IPlaywright? _playwright;

    public IBrowser? Browser { get; private set; }
    public string? Missing { get; private set; }

    public static bool Required => Environment.GetEnvironmentVariable("EASYIM_REQUIRE_INFRA") is "1" or "true";

    public async Task InitializeAsync()
    {
        var configured = Environment.GetEnvironmentVariable(ExecutableVariable);
        var executable = string.IsNullOrWhiteSpace(configured) ? FindOnPath() : File.Exists(configured) ? configured : null;
        if (executable is null)
        {
            Missing = string.IsNullOrWhiteSpace(configured)
                ? $"needs Chromium: no {string.Join(" or ", Names)} on PATH and {ExecutableVariable} is not set (apt-get install chromium; see .ci/run)"
                : $"needs Chromium: {ExecutableVariable} names {configured}, which does not exist";
            return;
        }
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = executable,
            Headless = true,
            // As root in a container: no sandbox; no GPU; no calls home; /dev/shm is often small.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
            Timeout = 60_000,
        });
    }

    /// <summary>The browser, or a skip (a failure in CI) saying why there is none.</summary>
    public IBrowser RequireBrowser()
    {
        if (Browser is null && Required)
            throw new InvalidOperationException($"EASYIM_REQUIRE_INFRA is set and this test {Missing}");
        Skip.If(Browser is null, Missing);
        return Browser!;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
            await Browser.DisposeAsync();
        _playwright?.Dispose();
    }

    private static string? FindOnPath()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(dir => Names.Select(name => Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists);
    }
}

[CollectionDefinition(Name)]
public sealed class ChromiumCollection : ICollectionFixture<ChromiumFixture>
{
    public const string Name = "Chromium";
}
