using System.Collections.Concurrent;
using System.Net;
using EasyIm.IntegrationTests.Telemetry.Otlp;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EasyIm.IntegrationTests.Telemetry;

/// <summary>One span as an OTLP exporter sent it, with the process (service.name) that sent it.</summary>
public sealed record ReceivedSpan(string Service, string Scope, string TraceId, string SpanId, string ParentSpanId, string Name,
    IReadOnlyDictionary<string, string> Attributes, IReadOnlyList<(string TraceId, string SpanId)> Links);

/// <summary>
/// A tiny OTLP/HTTP collector on 127.0.0.1 (protobuf encoding, <c>/v1/traces</c>): what the processes
/// under test export goes here, and the tests wait on its spans. Metrics and logs are accepted and dropped.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly SemaphoreSlim _arrived = new(0);

    private OtlpReceiver(WebApplication app) => _app = app;

    public string Endpoint { get; private set; } = "";

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", receiver.TracesAsync);
        app.MapPost("/v1/metrics", () => Results.Ok());
        app.MapPost("/v1/logs", () => Results.Ok());
        await app.StartAsync();
        receiver.Endpoint = app.Urls.Single();
        return receiver;
    }

    public IReadOnlyList<ReceivedSpan> Spans => [.. _spans];

    /// <summary>Waits until the spans received satisfy <paramref name="done"/>, for at most <paramref name="timeout"/>.</summary>
    public async Task<IReadOnlyList<ReceivedSpan>> WaitForAsync(Func<IReadOnlyList<ReceivedSpan>, bool> done, TimeSpan timeout, Func<string>? describe = null)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            var spans = Spans;
            if (done(spans))
                return spans;
            try
            {
                await _arrived.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the spans expected did not arrive within {timeout}; received {spans.Count}: " +
                    string.Join(", ", spans.Select(s => $"{s.Service}/{s.Name}")) + (describe is null ? "" : $"; {describe()}"));
            }
        }
    }

    private async Task<IResult> TracesAsync(HttpRequest request)
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        var export = ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray());
        foreach (var resource in export.ResourceSpans)
        {
            var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
            foreach (var scope in resource.ScopeSpans)
                foreach (var span in scope.Spans)
                    _spans.Enqueue(new ReceivedSpan(service, scope.Scope?.Name ?? "", Hex(span.TraceId), Hex(span.SpanId), Hex(span.ParentSpanId), span.Name,
                        span.Attributes.ToDictionary(a => a.Key, a => Text(a.Value)),
                        [.. span.Links.Select(l => (Hex(l.TraceId), Hex(l.SpanId)))]));
        }
        _arrived.Release();
        // An empty ExportTraceServiceResponse (every field optional): the exporter takes it as success.
        return Results.Bytes([], "application/x-protobuf");
    }

    private static string Hex(ByteString bytes) => Convert.ToHexStringLower(bytes.Span);

    private static string Text(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => "",
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
