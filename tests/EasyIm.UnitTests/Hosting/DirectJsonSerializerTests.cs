using System.Net.Mime;
using System.Text;
using EasyIm.Hosting.Bus;
using MassTransit;
using MassTransit.Serialization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EasyIm.UnitTests.Hosting;

/// <summary>
/// The bus's raw JSON serializer: read straight into the message's type, only for the types its
/// headers name, with request/response and MassTransit's envelope format still working, on the
/// in-memory bus exactly as <see cref="BusSetup.AddEasyImBus"/> sets it up.
/// </summary>
public sealed class DirectJsonSerializerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public sealed record Ping(string Text, IReadOnlyList<long> Ids, IReadOnlyDictionary<string, ulong>? Cursors, DateTimeOffset At);

    public sealed record Pong(string Text, int Count);

    public sealed record Other(string Text);

    [Fact]
    public void A_body_is_read_only_as_the_types_its_headers_name()
    {
        var serializer = DirectJsonSerializerFactory.Instance.CreateDeserializer();
        var headers = new DictionarySendHeaders();
        headers.Set(MessageHeaders.MessageType, MessageUrn.ForTypeString<Ping>());
        var body = new StringMessageBody("""{"text":"hi","ids":[1,9007199254740993],"cursors":{"s_1_2":7},"at":"2026-12-01T10:00:00+00:00"}""");

        var context = serializer.Deserialize(body, headers);

        Assert.True(context.TryGetMessage<Ping>(out var ping));
        Assert.Equal("hi", ping!.Text);
        Assert.Equal([1L, 9007199254740993L], ping.Ids);
        Assert.Equal(7UL, ping.Cursors!["s_1_2"]);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero), ping.At);
        // Other has a "text" too: were every type accepted, an endpoint's consumer of Other would get this Ping.
        Assert.False(context.IsSupportedMessageType<Other>());
        Assert.False(context.TryGetMessage<Other>(out _));
    }

    [Fact]
    public void A_body_that_is_not_json_is_a_serialization_error()
    {
        var serializer = DirectJsonSerializerFactory.Instance.CreateDeserializer();
        var headers = new DictionarySendHeaders();
        headers.Set(MessageHeaders.MessageType, MessageUrn.ForTypeString<Ping>());

        var context = serializer.Deserialize(new StringMessageBody("not json"), headers);

        Assert.ThrowsAny<System.Text.Json.JsonException>(() => context.TryGetMessage<Ping>(out _));
    }

    private static async Task<IHost> StartBusAsync(Seen seen, string? wireFormat = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Development" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [BusSetup.TransportKey] = "InMemory",
            [BusSetup.WireFormatKey] = wireFormat,
        });
        builder.Services.AddSingleton(seen);
        builder.AddEasyImBus([bus => bus.AddConsumer<PingConsumer>()]);
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    [Fact]
    public async Task On_the_bus_requests_are_answered_in_raw_json_and_envelope_messages_are_still_read()
    {
        var seen = new Seen();
        using var host = await StartBusAsync(seen);
        try
        {
            var bus = host.Services.GetRequiredService<IBus>();
            var client = bus.CreateRequestClient<Ping>(RequestTimeout.After(s: 10));
            var cursors = new Dictionary<string, ulong> { ["g_5"] = 12 };

            var answer = await client.GetResponse<Pong>(new Ping("one", [1, 2, 3], cursors, DateTimeOffset.UnixEpoch));

            Assert.Equal(new Pong("one", 3), answer.Message);
            Assert.Equal("application/json", (await seen.Next.Task.WaitAsync(Wait)).MediaType);

            // A process of an older version sends MassTransit's envelope: still understood.
            seen.Reset();
            await bus.Publish(new Ping("two", [], null, DateTimeOffset.UnixEpoch),
                context => context.Serializer = SystemTextJsonMessageSerializer.Instance);
            var received = await seen.Next.Task.WaitAsync(Wait);
            Assert.Equal(SystemTextJsonMessageSerializer.JsonContentType.MediaType, received.MediaType);
            Assert.Equal("two", received.Text);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task For_a_rolling_upgrade_the_envelope_can_be_sent_and_requests_still_work()
    {
        var seen = new Seen();
        using var host = await StartBusAsync(seen, "Envelope");
        try
        {
            var client = host.Services.GetRequiredService<IBus>().CreateRequestClient<Ping>(RequestTimeout.After(s: 10));

            var answer = await client.GetResponse<Pong>(new Ping("three", [7], null, DateTimeOffset.UnixEpoch));

            Assert.Equal(new Pong("three", 1), answer.Message);
            Assert.Equal(SystemTextJsonMessageSerializer.JsonContentType.MediaType, (await seen.Next.Task.WaitAsync(Wait)).MediaType);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task An_unknown_wire_format_stops_the_start_with_what_is_allowed()
    {
        var error = await Assert.ThrowsAsync<EasyIm.Hosting.StartupException>(() => StartBusAsync(new Seen(), "Protobuf"));
        Assert.Contains("Bus:WireFormat must be RawJson or Envelope", error.Message);
    }

    public sealed class Seen
    {
        public TaskCompletionSource<(string? MediaType, string Text)> Next { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Reset() => Next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public sealed class PingConsumer(Seen seen) : IConsumer<Ping>
    {
        public async Task Consume(ConsumeContext<Ping> context)
        {
            if (context.ResponseAddress is not null)
                await context.RespondAsync(new Pong(context.Message.Text, context.Message.Ids.Count));
            seen.Next.TrySetResult((context.ReceiveContext.ContentType?.MediaType, context.Message.Text));
        }
    }
}
