using System.Net;
using EasyIm.Client;
using EasyIm.LoadTest.Abuse;
using EasyIm.LoadTest.Measuring;
using EasyIm.LoadTest.Reporting;
using EasyIm.LoadTest.Scenarios;
using EasyIm.LoadTest.Targets;
using HdrHistogram;

namespace EasyIm.UnitTests.LoadTest;

/// <summary>The abuse scenario's own logic: choosing attacks, pacing them, counting what they got, and its report.</summary>
public sealed class AbuseScenarioTests
{
    [Fact]
    public void All_runs_every_attack_class()
    {
        Assert.Equal(Enum.GetValues<AttackKind>(), AttackKinds.Parse("all"));
        Assert.Equal(8, AttackKinds.Parse(" all ").Count);
    }

    [Fact]
    public void Chosen_attacks_run_once_each_in_a_fixed_order()
    {
        Assert.Equal([AttackKind.SyncFlood, AttackKind.LoginFlood], AttackKinds.Parse("login-flood, sync-flood,login-flood"));
        foreach (var kind in Enum.GetValues<AttackKind>())
            Assert.Equal([kind], AttackKinds.Parse(AttackKinds.Name(kind)));
    }

    [Theory]
    [InlineData("login")]
    [InlineData("sync-flood,nope")]
    [InlineData("")]
    [InlineData(",")]
    [InlineData("all,login-flood")]
    public void An_unknown_attack_is_refused_with_the_names_there_are(string text)
    {
        var error = Assert.Throws<ArgumentException>(() => AttackKinds.Parse(text));
        Assert.Contains("all", error.Message);
        if (text.Length > 1)
            Assert.Contains("slow-reader", error.Message);
    }

    [Fact]
    public void A_pacer_sends_its_rate_from_the_start()
    {
        var pacer = new Pacer(perSecond: 100, startTicks: 1_000, ticksPerSecond: 1_000);

        Assert.Equal((0L, 0L), pacer.Take(999));
        Assert.Equal((1L, 0L), pacer.Take(1_000));
        Assert.Equal((1L, 0L), pacer.Take(1_010));
        Assert.Equal((0L, 0L), pacer.Take(1_015));
        Assert.Equal((5L, 0L), pacer.Take(1_060));
    }

    [Fact]
    public void A_pacer_that_stalled_catches_up_a_quarter_second_at_most_and_counts_the_rest_as_skipped()
    {
        var pacer = new Pacer(perSecond: 100, startTicks: 0, ticksPerSecond: 1_000);
        Assert.Equal((1L, 0L), pacer.Take(0));

        var (due, skipped) = pacer.Take(2_000);

        Assert.Equal(25, pacer.MaxBacklog);
        Assert.Equal((25L, 175L), (due, skipped));
        Assert.Equal((1L, 0L), pacer.Take(2_010));
    }

    [Fact]
    public void A_slow_pacer_still_sends_one_at_a_time()
    {
        var pacer = new Pacer(perSecond: 0.5, startTicks: 0, ticksPerSecond: 1_000);

        Assert.Equal(1, pacer.MaxBacklog);
        Assert.Equal((1L, 0L), pacer.Take(0));
        Assert.Equal((0L, 0L), pacer.Take(1_999));
        Assert.Equal((1L, 0L), pacer.Take(2_000));
        Assert.Equal((1L, 2L), pacer.Take(8_000));
    }

    [Fact]
    public void Loopback_addresses_are_distinct_and_never_the_tools_own()
    {
        var addresses = new LoopbackAddresses();
        var seen = new HashSet<IPAddress>();
        for (var i = 0; i < 70_000; i++)
        {
            var address = addresses.Next();
            var bytes = address.GetAddressBytes();
            Assert.True(IPAddress.IsLoopback(address), $"{address}");
            Assert.NotEqual(0, bytes[1]);
            Assert.NotEqual(0, bytes[3]);
            Assert.NotEqual(255, bytes[3]);
            Assert.True(seen.Add(address), $"{address} handed out twice");
        }
        var first = new LoopbackAddresses();
        Assert.Equal([IPAddress.Parse("127.1.0.1"), IPAddress.Parse("127.1.0.2")], [first.Next(), first.Next()]);
    }

    [Fact]
    public void A_tally_counts_each_kind_of_answer_most_frequent_first()
    {
        var tally = new AttackTally();
        tally.AddSent(10);
        tally.AddNotSent(3);
        tally.Notify(429, "over the budget; try again in 3 s");
        tally.Notify(429, "over the budget; try again in 1 s");
        tally.Fail("content must be at most 16384 characters");
        tally.Fail("content must be at most 16384 characters");
        tally.Fail("content must be at most 16384 characters");
        tally.Fail("you can only send messages to your friends");
        tally.Http(HttpStatusCode.TooManyRequests, "too many logins");
        tally.Http(0, "connection refused");
        tally.Got(AttackTally.ClosedByServer, "closed by the server (WebSocket close 1008 closed with code 429)");

        Assert.Equal((10L, 3L), (tally.Sent, tally.NotSent));
        Assert.Equal(4, tally.CountOf("FAIL"));
        Assert.Equal(2, tally.CountOf("NOTIFY 429"));
        Assert.Equal(
        [
            "3 × FAIL \"content must be at most 16384 characters\"",
            "2 × NOTIFY 429 \"over the budget; try again in 3 s\"",
            "1 × FAIL \"you can only send messages to your friends\"",
            "1 × HTTP 429 \"too many logins\"",
            "1 × closed by the server \"closed by the server (WebSocket close 1008 closed with code 429)\"",
            "1 × no HTTP answer \"connection refused\"",
        ], tally.Summary());
    }

    [Fact]
    public void Fail_reasons_that_differ_only_in_numbers_are_one_kind_with_the_first_as_example()
    {
        var tally = new AttackTally();
        tally.Fail("group 12 not found");
        tally.Fail("group 345 not found");

        Assert.Equal(["2 × FAIL \"group 12 not found\""], tally.Summary());
    }

    [Fact]
    public void A_tallys_examples_are_one_short_line()
    {
        var tally = new AttackTally();
        tally.Notify(400, "line one\nline two " + new string('x', 300));

        var line = Assert.Single(tally.Summary());

        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("1 × NOTIFY 400 \"line one line two xxx", line);
        Assert.EndsWith("...\"", line);
        Assert.True(line.Length < 160, line);
    }

    [Fact]
    public void A_tally_counts_from_many_threads_at_once()
    {
        var tally = new AttackTally();
        Parallel.For(0, 10_000, i =>
        {
            tally.AddSent();
            tally.Got(AttackTally.SentAck);
        });

        Assert.Equal((10_000L, 10_000L), (tally.Sent, tally.CountOf(AttackTally.SentAck)));
    }

    [Fact]
    public void The_attack_table_keeps_one_row_per_attack_and_its_cells_on_one_line()
    {
        var attacks = Attack.Create([AttackKind.BadContent, AttackKind.RegistrationFlood], historyMessages: 100);
        attacks[0].Tally.AddSent(5);
        attacks[0].Tally.Fail("a | b\nc");
        var output = new StringWriter();

        AbuseReport.AttackTable(attacks).Write(output);

        var lines = output.ToString().ReplaceLineEndings("\n").TrimEnd().Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Contains("| bad-content ", lines[2]);
        Assert.Contains("5 chat messages", lines[2]);
        Assert.Contains("FAIL \"a \\| b c\"", lines[2]);
        Assert.Contains("| registration-flood ", lines[3]);
        Assert.Contains("nothing", lines[3]);
    }

    [Fact]
    public void Both_floods_on_one_conversation_share_its_history()
    {
        var attacks = Attack.Create(Enum.GetValues<AttackKind>(), historyMessages: 100);

        Assert.Equal(Enum.GetValues<AttackKind>(), attacks.Select(a => a.Kind));
        Assert.Contains("100 messages", attacks.Single(a => a.Kind == AttackKind.SyncFlood).Description);
        Assert.Contains("1..100", attacks.Single(a => a.Kind == AttackKind.ReceiptFlood).Description);
    }

    [Theory]
    [InlineData("Gateway:RateLimit:PerSecond=200", "Gateway__RateLimit__PerSecond", "200")]
    [InlineData("Gateway__RateLimit__Burst=400", "Gateway__RateLimit__Burst", "400")]
    [InlineData("ConnectionStrings:postgres=Host=x;Password=y", "ConnectionStrings__postgres", "Host=x;Password=y")]
    [InlineData("Auth:PasswordIterations=", "Auth__PasswordIterations", "")]
    [InlineData(" Messaging:RequireFriendship =false", "Messaging__RequireFriendship", "false")]
    public void A_server_setting_becomes_an_environment_variable(string argument, string variable, string value) =>
        Assert.Equal((variable, value), ServerSetting.Parse(argument));

    [Theory]
    [InlineData("Gateway:RateLimit:PerSecond")]
    [InlineData("=200")]
    [InlineData("Gateway::Burst=1")]
    [InlineData("Gateway:=1")]
    [InlineData("1Gateway:Burst=1")]
    [InlineData("Gate way:Burst=1")]
    public void A_malformed_server_setting_is_refused(string argument) =>
        Assert.Contains("Key=Value", Assert.Throws<ArgumentException>(() => ServerSetting.Parse(argument)).Message);

    [Fact]
    public void Server_settings_given_on_the_command_line_win_over_the_scenarios()
    {
        var common = Common(new Dictionary<string, string> { ["Gateway__RateLimit__PerSecond"] = "7" });

        var settings = common.Settings(
            new Dictionary<string, string> { ["Gateway__RateLimit__PerSecond"] = "1", ["A"] = "1" },
            new Dictionary<string, string> { ["A"] = "2", ["B"] = "2" });

        Assert.Equal(new Dictionary<string, string> { ["Gateway__RateLimit__PerSecond"] = "7", ["A"] = "2", ["B"] = "2" }, settings);
    }

    [Fact]
    public void Bystanders_must_stay_under_the_per_connection_chat_limit()
    {
        AbuseScenario.CheckBystanderRate(Common(), rate: 4_000, pairs: 100);
        AbuseScenario.CheckBystanderRate(Common(), rate: 4_000, pairs: 50);

        var error = Assert.Throws<ArgumentException>(() => AbuseScenario.CheckBystanderRate(Common(), rate: 4_000, pairs: 49));

        Assert.Contains("--pairs 50 or more", error.Message);
        AbuseScenario.CheckBystanderRate(Common(new Dictionary<string, string> { ["Gateway__RateLimit__PerSecond"] = "1000" }), rate: 4_000, pairs: 10);
    }

    [Fact]
    public void The_issue_target_compares_the_bystanders_p99_with_and_without_the_attacks()
    {
        var quiet = Result(p99Micros: 40_000, lost: 0);

        var met = IssueTargets.ForAbuse(quiet, Result(p99Micros: 70_000, lost: 0));
        var missed = IssueTargets.ForAbuse(quiet, Result(p99Micros: 90_000, lost: 2));

        Assert.Contains("<= 2× without: met", met);
        Assert.Contains("×1.7", met);
        Assert.Contains("zero lost or unacked (with the attacks): met", met);
        Assert.Contains("<= 2× without: NOT MET", missed);
        Assert.Contains("zero lost or unacked (with the attacks): NOT MET (2 lost", missed);
        Assert.Contains("zero lost or unacked (without attack): met", missed);
    }

    private static CommonOptions Common(IReadOnlyDictionary<string, string>? settings = null) => new(
        Shape.Standalone, ClientTransport.WebSocketJson, Baseline: false,
        new InfrastructureOptions(InfrastructureOptions.DefaultRabbitMq, InfrastructureOptions.DefaultRabbitMqApi, InfrastructureOptions.DefaultPostgres),
        settings ?? new Dictionary<string, string>(), "abuse", "abuse");

    /// <summary>A run whose every latency is <paramref name="p99Micros"/>.</summary>
    private static FlowResult Result(long p99Micros, long lost)
    {
        var latency = new LongHistogram(600_000_000, 3);
        latency.RecordValueWithCount(p99Micros, 100);
        var tally = new DeliveryTally(100, 100, 0, 0, 100, 100 - lost, lost, 0, 0, 0, 0, 0);
        return new FlowResult("run", tally, 100, 100, latency, latency, TimeSpan.Zero, TimeSpan.Zero, 0, 0, 0, 0, null, null, 0, null,
            TimeSpan.Zero, true, [], []);
    }
}

