using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;
using EasyIm.Client;
using EasyIm.LoadTest.Abuse;
using EasyIm.LoadTest.Relay;
using EasyIm.LoadTest.Scenarios;
using EasyIm.LoadTest.Targets;

namespace EasyIm.LoadTest;

/// <summary>
/// The tool's command line: <c>chat</c> (also the root's own action), <c>idle</c>, <c>fanout</c>, <c>abuse</c>, <c>soak</c>,
/// and the hidden <c>relay</c> and <c>agent</c> modes the tool starts itself in.
/// </summary>
public static class LoadCli
{
    private const string RunPrefix = "dotnet run -c Release --project tests/EasyIm.LoadTest --";

    public static RootCommand Build(string[] args)
    {
        var root = new RootCommand(
            "EasyIm load test, run by hand: starts EasyIm (standalone or distributed) as processes, drives it over real sockets, and runs " +
            "the same workload against a bare relay in the same run for ratios. Without a command it runs chat.");
        AddChat(root, args);

        var chat = new Command("chat", "One-to-one messages between pairs of connections, at max or at a fixed rate (the default)");
        AddChat(chat, args);
        root.Subcommands.Add(chat);

        var fanout = new Command("fanout", "One sender, a group whose members are all online: per-delivery latency of group messages");
        AddFanout(fanout, args);
        root.Subcommands.Add(fanout);

        var idle = new Command("idle", "Idle authenticated connections on one gateway: memory per connection");
        AddIdle(idle, args);
        root.Subcommands.Add(idle);

        var abuse = new Command("abuse", "Chat pairs at a fixed rate without, then with, hostile users attacking (limits as shipped): the bystanders' latency and losses, and what each attacker got");
        AddAbuse(abuse, args);
        root.Subcommands.Add(abuse);

        var store = new Command("store", "The reads a client makes (history, conversation list, SYNC, connect-time catch-up) on a small store and on a large one filled straight into its tables, same run");
        AddStore(store, args);
        root.Subcommands.Add(store);
        var soak = new Command("soak", "Chat pairs at a fixed rate for a long time, a row a minute of the log and database sizes, the servers' memory and CPU, and that minute's latency");
        AddSoak(soak, args);
        root.Subcommands.Add(soak);

        var relay = new Command("relay", "(internal) the bare relay baseline as a process") { Hidden = true };
        relay.SetAction(_ => BareRelay.RunAsync());
        root.Subcommands.Add(relay);
        var agent = new Command("agent", "(internal) a process that holds idle connections") { Hidden = true };
        agent.SetAction(_ => ConnectionAgent.RunAsync());
        root.Subcommands.Add(agent);
        return root;
    }

    // Each command gets its own option objects: the root runs chat too, and an option shared by the
    // root and a subcommand would be validated (and complained about) twice.

    private static void AddChat(Command command, string[] args)
    {
        var mode = Choice("--mode", "max: each sender keeps --window messages awaiting their SENT ack; rate: all senders together offer --rate msg/s on a fixed schedule", ["max", "rate"]);
        var rate = new Option<double?>("--rate") { Description = "Rate mode: messages a second offered in all (default: the issue's target rate, 10,000 standalone, 4,000 distributed)" };
        var pairs = Whole("--pairs", "Sender/receiver pairs, one connection each", 100, 1, 7_500);
        var window = Whole("--window", "Max mode: messages in flight per sender", 64, 1);
        var maxInFlight = Whole("--max-in-flight", "Rate mode: a sender with this many messages awaiting their ack skips the next ones (reported as fallen behind)", 10_000, 1);
        foreach (var option in new Option[] { mode, rate, pairs, window, maxInFlight })
            command.Options.Add(option);
        var flow = new FlowSymbols(command);
        var common = new CommonSymbols(command, args);
        command.SetAction((parsed, ct) => Guarded(() =>
        {
            var sendMode = parsed.GetValue(mode) == "rate" ? SendMode.Rate : SendMode.Max;
            var sendRate = parsed.GetValue(rate) ?? (common.Shape(parsed) == Shape.Distributed ? 4_000 : 10_000);
            if (sendRate <= 0)
                throw new ArgumentException("--rate must be above 0");
            var full = $"chat --mode {parsed.GetValue(mode)}" +
                (sendMode == SendMode.Rate ? $" --rate {Text(sendRate)} --max-in-flight {parsed.GetValue(maxInFlight)}" : $" --window {parsed.GetValue(window)}") +
                $" --pairs {parsed.GetValue(pairs)} {flow.Arguments(parsed)}";
            return ChatScenario.RunAsync(common.Read(parsed, full), parsed.GetValue(pairs),
                flow.Read(parsed, sendMode, sendRate, parsed.GetValue(window), parsed.GetValue(maxInFlight)), ct);
        }));
    }

    private static void AddFanout(Command command, string[] args)
    {
        var members = Whole("--members", "Members of the group, the sender included, all online", 1000, 2, 15_000);
        var rate = new Option<double>("--rate") { Description = "Group messages a second the one sender sends", DefaultValueFactory = _ => 20 };
        command.Options.Add(members);
        command.Options.Add(rate);
        var flow = new FlowSymbols(command);
        var common = new CommonSymbols(command, args);
        command.SetAction((parsed, ct) => Guarded(() =>
        {
            var sendRate = parsed.GetValue(rate);
            if (sendRate <= 0)
                throw new ArgumentException("--rate must be above 0");
            var full = $"fanout --members {parsed.GetValue(members)} --rate {Text(sendRate)} {flow.Arguments(parsed)}";
            return FanoutScenario.RunAsync(common.Read(parsed, full), parsed.GetValue(members),
                flow.Read(parsed, SendMode.Rate, sendRate, window: 1, maxInFlight: 10_000), ct);
        }));
    }

    private static void AddIdle(Command command, string[] args)
    {
        var connections = Whole("--connections", "Idle connections to hold on the one gateway", 19_000, 1, 60_000);
        var devices = Whole("--devices", "Connections per user (each with its own device_id); 1 = a user per connection", 1, 1, 100);
        var settle = Whole("--settle", "Seconds to wait after the last connection is ready before reading memory", 10, 0);
        var heartbeat = Whole("--heartbeat", "Seconds between each connection's heartbeats; 0 = none", 0, 0);
        foreach (var option in new Option[] { connections, devices, settle, heartbeat })
            command.Options.Add(option);
        var common = new CommonSymbols(command, args);
        command.SetAction((parsed, ct) => Guarded(() =>
        {
            var full = $"idle --connections {parsed.GetValue(connections)} --devices {parsed.GetValue(devices)} --settle {parsed.GetValue(settle)} --heartbeat {parsed.GetValue(heartbeat)}";
            return IdleScenario.RunAsync(common.Read(parsed, full), parsed.GetValue(connections), parsed.GetValue(devices),
                TimeSpan.FromSeconds(parsed.GetValue(settle)), TimeSpan.FromSeconds(parsed.GetValue(heartbeat)), ct);
        }));
    }

    private static void AddSoak(Command command, string[] args)
    {
        var rate = new Option<double>("--rate") { Description = "Messages a second offered in all, throughout", DefaultValueFactory = _ => 5_000 };
        var pairs = Whole("--pairs", "Sender/receiver pairs, one connection each", 100, 1, 7_500);
        var minutes = Whole("--minutes", "How long the rate is offered, after the warm-up", 30, 1, 24 * 60);
        var interval = Whole("--interval", "Seconds per row (a minute by default)", 60, 5);
        var warmup = Whole("--warmup", "Seconds of sending before the first row", 30, 0);
        var drain = Whole("--drain", "Seconds to wait at most, after sending stops, for the last acks and deliveries", 10, 0);
        var receipts = new Option<bool>("--receipts") { Description = "Receivers send ARRIVED receipts as real clients do (--receipts false: none)", DefaultValueFactory = _ => true };
        var receiptInterval = Whole("--receipt-interval", "Milliseconds between a receiver's receipts (one for all that arrived since)", 50, 1);
        var maxInFlight = Whole("--max-in-flight", "A sender with this many messages awaiting their ack skips the next ones (reported as fallen behind)", 10_000, 1);
        foreach (var option in new Option[] { rate, pairs, minutes, interval, warmup, drain, receipts, receiptInterval, maxInFlight })
            command.Options.Add(option);
        var common = new CommonSymbols(command, args, baseline: false);
        command.SetAction((parsed, ct) => Guarded(() =>
        {
            var sendRate = parsed.GetValue(rate);
            if (sendRate <= 0)
                throw new ArgumentException("--rate must be above 0");
            var full = $"soak --rate {Text(sendRate)} --pairs {parsed.GetValue(pairs)} --minutes {parsed.GetValue(minutes)} --interval {parsed.GetValue(interval)} " +
                $"--warmup {parsed.GetValue(warmup)} --drain {parsed.GetValue(drain)} --receipts {(parsed.GetValue(receipts) ? "true" : "false")} " +
                $"--receipt-interval {parsed.GetValue(receiptInterval)} --max-in-flight {parsed.GetValue(maxInFlight)}";
            var flow = new FlowSettings(SendMode.Rate, sendRate, 1, TimeSpan.FromSeconds(parsed.GetValue(warmup)), TimeSpan.FromMinutes(parsed.GetValue(minutes)),
                TimeSpan.FromSeconds(parsed.GetValue(drain)), parsed.GetValue(receipts), TimeSpan.FromMilliseconds(parsed.GetValue(receiptInterval)),
                parsed.GetValue(maxInFlight));
            return SoakScenario.RunAsync(common.Read(parsed, full), parsed.GetValue(pairs), flow, TimeSpan.FromSeconds(parsed.GetValue(interval)), ct);
        }));
    }

    private static void AddStore(Command command, string[] args)
    {
        var small = new Option<long>("--small") { Description = "Messages in the small store (from 1,000,000 every conversation has the few messages each read asks for)", DefaultValueFactory = _ => 1_000_000 };
        var large = new Option<long>("--messages") { Description = "Messages in the large store", DefaultValueFactory = _ => 10_000_000 };
        var repeat = Whole("--repeat", "Times each HTTP read is timed (each SYNC and catch-up a tenth as often, at least 5)", 200, 10, 100_000);
        foreach (var option in new Option[] { small, large, repeat })
            command.Options.Add(option);
        var common = new CommonSymbols(command, args, baseline: false);
        command.SetAction((parsed, ct) => Guarded(() =>
        {
            var (s, l) = (parsed.GetValue(small), parsed.GetValue(large));
            if (s < 10_000 || l < s)
                throw new ArgumentException("--small must be at least 10,000 and --messages at least --small");
            var full = $"store --small {s} --messages {l} --repeat {parsed.GetValue(repeat)}";
            return StoreScenario.RunAsync(common.Read(parsed, full), s, l, parsed.GetValue(repeat), ct);
        }));
    }

    private static void AddAbuse(Command command, string[] args)
    {
        var rate = new Option<double>("--rate") { Description = "Messages a second the bystanders offer in all, in both phases", DefaultValueFactory = _ => 4_000 };
        var pairs = Whole("--pairs", "Bystander sender/receiver pairs (friends), one connection each", 100, 1, 7_500);
        var maxInFlight = Whole("--max-in-flight", "A bystander sender with this many messages awaiting their ack skips the next ones (reported as fallen behind)", 10_000, 1);
        var attacks = new Option<string>("--attacks")
        {
            Description = $"{AttackKinds.All}, or some of {string.Join(", ", Enum.GetValues<AttackKind>().Select(AttackKinds.Name))} separated by commas",
            DefaultValueFactory = _ => AttackKinds.All,
        };
        attacks.Validators.Add(result =>
        {
            try
            {
                AttackKinds.Parse(result.GetValueOrDefault<string>() ?? "");
            }
            catch (ArgumentException ex)
            {
                result.AddError(ex.Message);
            }
        });
        var history = Whole("--history", "Messages in the conversation the SYNC flood asks for from 0 (and the receipt flood acknowledges)", 2_000, 10, 50_000);
        foreach (var option in new Option[] { rate, pairs, maxInFlight, attacks, history })
            command.Options.Add(option);
        var flow = new FlowSymbols(command);
        var common = new CommonSymbols(command, args, baseline: false);
        command.SetAction((parsed, ct) => Guarded(() =>
        {
            var sendRate = parsed.GetValue(rate);
            if (sendRate <= 0)
                throw new ArgumentException("--rate must be above 0");
            var kinds = AttackKinds.Parse(parsed.GetValue(attacks)!);
            var full = $"abuse --rate {Text(sendRate)} --pairs {parsed.GetValue(pairs)} --max-in-flight {parsed.GetValue(maxInFlight)} " +
                $"--attacks {(kinds.Count == Enum.GetValues<AttackKind>().Length ? AttackKinds.All : string.Join(',', kinds.Select(AttackKinds.Name)))} " +
                $"--history {parsed.GetValue(history)} {flow.Arguments(parsed)}";
            return AbuseScenario.RunAsync(common.Read(parsed, full), parsed.GetValue(pairs),
                flow.Read(parsed, SendMode.Rate, sendRate, window: 1, parsed.GetValue(maxInFlight)), kinds, parsed.GetValue(history), ct);
        }));
    }

    /// <summary>Options every scenario has: the shape, the transport, the baseline, server settings, and where RabbitMQ and PostgreSQL are.</summary>
    private sealed class CommonSymbols
    {
        private static readonly string[] Shapes = ["standalone", "distributed"];
        private static readonly string[] Transports = ["ws-json", "ws-protobuf", "tcp-json", "tcp-protobuf"];

        private readonly string[] _args;
        private readonly bool _baseline;
        private readonly Option<string[]> _serverSettings = new("--server-setting")
        {
            Description = "A setting for every server process, Key=Value with a configuration key (Gateway:RateLimit:PerSecond=200); repeat it for more. Over the scenario's own",
            DefaultValueFactory = _ => [],
        };
        private readonly Option<string> _shape = Choice("--shape", "standalone: one easyim process on SQLite; distributed: auth, friends, messaging and gateway processes on RabbitMQ and PostgreSQL", Shapes);
        private readonly Option<string> _transport = Choice("--transport", "How the clients connect, to EasyIm and to the relay alike", Transports);
        private readonly Option<bool> _noBaseline = new("--no-baseline") { Description = "Skip the bare relay baseline (no ratios then)" };
        private readonly Option<string> _rabbitMq = Endpoint("--rabbitmq", "RabbitMQ for the distributed shape, amqp:// (the run makes its own vhost)", InfrastructureOptions.RabbitMqVariable, InfrastructureOptions.DefaultRabbitMq);
        private readonly Option<string> _rabbitMqApi = Endpoint("--rabbitmq-api", "RabbitMQ's management API, to make and delete the run's vhost", InfrastructureOptions.RabbitMqApiVariable, InfrastructureOptions.DefaultRabbitMqApi);
        private readonly Option<string> _postgres = Endpoint("--postgres", "PostgreSQL connection string of a role that may CREATE DATABASE (the run makes its own)", InfrastructureOptions.PostgresVariable, InfrastructureOptions.DefaultPostgres);

        /// <param name="baseline">Whether the scenario runs the bare relay too (<c>--no-baseline</c> skips it); the abuse scenario compares EasyIm with itself.</param>
        public CommonSymbols(Command command, string[] args, bool baseline = true)
        {
            _args = args;
            _baseline = baseline;
            _serverSettings.Validators.Add(result =>
            {
                foreach (var setting in result.GetValueOrDefault<string[]>() ?? [])
                {
                    try
                    {
                        ServerSetting.Parse(setting);
                    }
                    catch (ArgumentException ex)
                    {
                        result.AddError(ex.Message);
                    }
                }
            });
            foreach (var option in new Option[] { _shape, _transport, _serverSettings, _rabbitMq, _rabbitMqApi, _postgres })
                command.Options.Add(option);
            if (baseline)
                command.Options.Add(_noBaseline);
        }

        public Shape Shape(ParseResult parsed) => parsed.GetValue(_shape) == "distributed" ? Targets.Shape.Distributed : Targets.Shape.Standalone;

        /// <param name="scenario">The scenario's own options, spelled out, for the full command line.</param>
        public CommonOptions Read(ParseResult parsed, string scenario)
        {
            var shape = Shape(parsed);
            var settings = parsed.GetValue(_serverSettings) ?? [];
            var baseline = _baseline && !parsed.GetValue(_noBaseline);
            var full = $"{RunPrefix} {scenario} --shape {parsed.GetValue(_shape)} --transport {parsed.GetValue(_transport)}" +
                (_baseline && !baseline ? " --no-baseline" : "") +
                string.Concat(settings.Select(s => $" --server-setting {Quote([Redacted(s)])}")) +
                (shape == Targets.Shape.Distributed
                    ? NonDefault("--rabbitmq", parsed.GetValue(_rabbitMq)!, InfrastructureOptions.DefaultRabbitMq)
                      + NonDefault("--rabbitmq-api", parsed.GetValue(_rabbitMqApi)!, InfrastructureOptions.DefaultRabbitMqApi)
                      + NonDefault("--postgres", parsed.GetValue(_postgres)!, InfrastructureOptions.DefaultPostgres)
                    : "");
            return new CommonOptions(shape, Transport(parsed.GetValue(_transport)!), baseline,
                new InfrastructureOptions(parsed.GetValue(_rabbitMq)!, parsed.GetValue(_rabbitMqApi)!, parsed.GetValue(_postgres)!),
                settings.Select(ServerSetting.Parse).GroupBy(s => s.Variable).ToDictionary(g => g.Key, g => g.Last().Value),
                $"{RunPrefix} {Quote(_args.Select(Redacted))}", full);
        }

        private static ClientTransport Transport(string name) => name switch
        {
            "ws-protobuf" => ClientTransport.WebSocketProtobuf,
            "tcp-json" => ClientTransport.TcpJson,
            "tcp-protobuf" => ClientTransport.TcpProtobuf,
            _ => ClientTransport.WebSocketJson,
        };

        private static Option<string> Endpoint(string name, string description, string variable, string fallback) => new(name)
        {
            Description = $"{description} (or {variable})",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable(variable) is { Length: > 0 } set ? set : fallback,
        };

        /// <summary>An endpoint option when it is not the default, its password left out: the line goes into reports.</summary>
        private static string NonDefault(string name, string value, string fallback) =>
            value == fallback ? "" : $" {name} {Quote([Redacted(value)])}";
    }

    /// <summary>Options of the message scenarios: timing and receipts.</summary>
    private sealed class FlowSymbols
    {
        private readonly Option<int> _warmup = Whole("--warmup", "Seconds of sending before the measured interval", 8, 0);
        private readonly Option<int> _duration = Whole("--duration", "Seconds of the measured interval: only messages meant to leave in it count", 20, 1);
        private readonly Option<int> _drain = Whole("--drain", "Seconds to wait at most, after sending stops, for the last acks and deliveries", 10, 0);
        private readonly Option<bool> _receipts = new("--receipts") { Description = "Receivers send ARRIVED receipts as real clients do (--receipts false: none)", DefaultValueFactory = _ => true };
        private readonly Option<int> _receiptInterval = Whole("--receipt-interval", "Milliseconds between a receiver's receipts (one for all that arrived since)", 50, 1);

        public FlowSymbols(Command command)
        {
            foreach (var option in new Option[] { _warmup, _duration, _drain, _receipts, _receiptInterval })
                command.Options.Add(option);
        }

        public FlowSettings Read(ParseResult parsed, SendMode mode, double rate, int window, int maxInFlight) => new(
            mode, rate, window, TimeSpan.FromSeconds(parsed.GetValue(_warmup)), TimeSpan.FromSeconds(parsed.GetValue(_duration)),
            TimeSpan.FromSeconds(parsed.GetValue(_drain)), parsed.GetValue(_receipts), TimeSpan.FromMilliseconds(parsed.GetValue(_receiptInterval)),
            maxInFlight);

        public string Arguments(ParseResult parsed) =>
            $"--warmup {parsed.GetValue(_warmup)} --duration {parsed.GetValue(_duration)} --drain {parsed.GetValue(_drain)} " +
            $"--receipts {(parsed.GetValue(_receipts) ? "true" : "false")} --receipt-interval {parsed.GetValue(_receiptInterval)}";
    }

    /// <summary>A failure says what went wrong in a line (exit code 2), not a stack trace; Ctrl-C is 130.</summary>
    private static async Task<int> Guarded(Func<Task<int>> run)
    {
        try
        {
            return await run();
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("cancelled; every process the tool started was stopped");
            return 130;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException or ArgumentException or HttpRequestException
                                       or System.Net.Sockets.SocketException)
        {
            await Console.Error.WriteLineAsync($"load test failed: {ex.Message}");
            return 2;
        }
    }

    private static Option<string> Choice(string name, string description, string[] values)
    {
        var option = new Option<string>(name) { Description = description, DefaultValueFactory = _ => values[0] };
        option.AcceptOnlyFromAmong(values);
        return option;
    }

    private static Option<int> Whole(string name, string description, int fallback, int min, int max = int.MaxValue)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => fallback };
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<int>();
            if (value < min || value > max)
                result.AddError(max == int.MaxValue ? $"{name} must be at least {min}" : $"{name} must be from {min} to {max}");
        });
        return option;
    }

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Passwords in an amqp:// or http:// address or a connection string, replaced by ***.</summary>
    private static string Redacted(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.UserInfo.Contains(':')
            ? value.Replace(uri.UserInfo + "@", uri.UserInfo.Split(':')[0] + ":***@", StringComparison.Ordinal)
            : Regex.Replace(value, "(?i)(password|pwd)=[^;]*", "$1=***");

    private static string Quote(IEnumerable<string> args) =>
        string.Join(' ', args.Select(a => a.Length > 0 && a.All(c => char.IsLetterOrDigit(c) || "-_./:=,@*".Contains(c)) ? a : "'" + a.Replace("'", "'\\''") + "'"));
}
