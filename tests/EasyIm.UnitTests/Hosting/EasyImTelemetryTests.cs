using System.Diagnostics;
using EasyIm.Hosting;

namespace EasyIm.UnitTests.Hosting;

/// <summary>How a chat message's spans start: in its own trace, never under whatever span is current.</summary>
public sealed class EasyImTelemetryTests
{
    [Fact]
    public void A_message_span_without_a_trace_parent_starts_a_trace_of_its_own_even_under_another_span()
    {
        using var listener = Listen();
        using var outer = new ActivitySource("EasyIm.UnitTests.Outer").StartActivity("websocket upgrade request");
        Assert.NotNull(outer);

        var span = EasyImTelemetry.StartMessageSpan("chat receive", ActivityKind.Server, null);

        Assert.NotNull(span);
        Assert.NotEqual(outer.TraceId, span.TraceId);
        Assert.Equal(default, span.ParentSpanId);
        Assert.Same(outer, Activity.Current); // the caller's current span is left as it was
        EasyImTelemetry.Stop(span);
        Assert.Same(outer, Activity.Current);
    }

    [Fact]
    public void A_message_span_continues_the_trace_its_message_carries()
    {
        using var listener = Listen();
        var root = EasyImTelemetry.StartMessageSpan("chat receive", ActivityKind.Server, null)!;
        var carried = EasyImTelemetry.TraceParentOf(root);
        EasyImTelemetry.Stop(root);

        var store = EasyImTelemetry.StartMessageSpan("chat store", ActivityKind.Internal, carried);

        Assert.NotNull(carried);
        Assert.Equal(root.TraceId, store!.TraceId);
        Assert.Equal(root.SpanId, store.ParentSpanId);
        EasyImTelemetry.Stop(store);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a traceparent")]
    [InlineData("00-00000000000000000000000000000000-0000000000000000-01")]
    public void A_broken_trace_parent_starts_a_new_trace_instead_of_failing(string traceParent)
    {
        using var listener = Listen();

        var span = EasyImTelemetry.StartMessageSpan("chat store", ActivityKind.Internal, traceParent);

        Assert.NotNull(span);
        Assert.Equal(default, span.ParentSpanId);
        EasyImTelemetry.Stop(span);
    }

    [Fact]
    public void An_unrecorded_span_has_no_trace_parent_to_carry()
    {
        Assert.Null(EasyImTelemetry.TraceParentOf(null));
        using var unrecorded = new Activity("x").SetIdFormat(ActivityIdFormat.W3C).Start();
        unrecorded.ActivityTraceFlags = ActivityTraceFlags.None;
        Assert.Null(EasyImTelemetry.TraceParentOf(unrecorded));
    }

    private static ActivityListener Listen()
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is EasyImTelemetry.Name or "EasyIm.UnitTests.Outer",
            Sample = (ref _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
