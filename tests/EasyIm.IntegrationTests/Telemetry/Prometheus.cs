using System.Globalization;
using System.Text.RegularExpressions;

namespace EasyIm.IntegrationTests.Telemetry;

/// <summary>Reads a process's Prometheus <c>/metrics</c>, as a scraper would.</summary>
public static partial class Prometheus
{
    public static async Task<string> ScrapeAsync(HttpClient http)
    {
        // The exporter caches a scrape for a moment (ScrapeResponseCacheDurationMilliseconds): ask for a fresh one.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.CacheControl = new() { NoCache = true };
        var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return text;
    }

    /// <summary>The value of a series (the sum over its label sets that contain <paramref name="label"/>); 0 when absent.</summary>
    public static double Value(string scrape, string name, string? label = null) =>
        Sample().Matches(scrape)
            .Where(m => m.Groups["name"].Value == name && (label is null || m.Groups["labels"].Value.Contains(label, StringComparison.Ordinal)))
            .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex Sample();
}
