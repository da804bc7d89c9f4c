using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using EasyIm.Contracts.Wire;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EasyIm.LoadTest;

/// <summary>
/// The baseline: the least a relay must do for the same workload. Kestrel, raw TCP, JSON lines
/// with the same protobuf JSON codec, any heartbeat accepted, each chat message acked to its
/// sender and written to its recipient. No bus, no database, no batching, no checks.
/// </summary>
public sealed class BaselineRelay : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BaselineRelay(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public static async Task<BaselineRelay> StartAsync()
    {
        var port = ServerProcess.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, l => l.UseConnectionHandler<RelayHandler>()));
        builder.Services.AddSingleton<ConcurrentDictionary<string, RelayConnection>>();
        var app = builder.Build();
        await app.StartAsync();
        return new BaselineRelay(app, port);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed class RelayConnection(PipeWriter output)
    {
        private readonly SemaphoreSlim _lock = new(1, 1);

        public async ValueTask WriteAsync(byte[] line)
        {
            await _lock.WaitAsync();
            try
            {
                await output.WriteAsync(line);
            }
            finally
            {
                _lock.Release();
            }
        }
    }

    private sealed class RelayHandler(ConcurrentDictionary<string, RelayConnection> users) : ConnectionHandler
    {
        private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatEnumsAsIntegers(true).WithPreserveProtoFieldNames(true));
        private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));
        private long _ids;

        public override async Task OnConnectedAsync(ConnectionContext connection)
        {
            var self = new RelayConnection(connection.Transport.Output);
            string? user = null;
            var input = connection.Transport.Input;
            while (true)
            {
                var result = await input.ReadAsync();
                var buffer = result.Buffer;
                while (buffer.PositionOf((byte)'\n') is { } end)
                {
                    var msg = Parser.Parse<Msg>(Encoding.UTF8.GetString(buffer.Slice(0, end)));
                    buffer = buffer.Slice(buffer.GetPosition(1, end));
                    if (msg.MsgType == Msg.Types.MsgType.Event)
                    {
                        user = msg.FromUserId;
                        users[user] = self;
                        await self.WriteAsync(Line(new Msg { MsgType = Msg.Types.MsgType.Event, ToUserId = user, Content = """{"code":200,"msg":"SUCCESS","data":{"key":"KEEP_ALIVE"}}""" }));
                        continue;
                    }
                    var stored = msg.Clone();
                    stored.Id = Interlocked.Increment(ref _ids).ToString();
                    stored.FromUserId = user ?? "";
                    stored.Status = Msg.Types.MsgStatus.Sent;
                    var line = Line(stored);
                    await self.WriteAsync(line);
                    if (users.TryGetValue(msg.ToUserId, out var peer))
                        await peer.WriteAsync(line);
                }
                input.AdvanceTo(buffer.Start, result.Buffer.End);
                if (result.IsCompleted)
                    break;
            }
            if (user is not null)
                users.TryRemove(new KeyValuePair<string, RelayConnection>(user, self));
        }

        private static byte[] Line(Msg msg) => Encoding.UTF8.GetBytes(Formatter.Format(msg) + "\n");
    }
}
