namespace EasyIm.Contracts.Friends;

/// <summary>A group as its members see it; <paramref name="InvitePolicy"/> is a <see cref="GroupInvitePolicies"/> value.</summary>
public sealed record GroupInfo(long Id, string Name, long OwnerId, int MemberCount, string InvitePolicy = GroupInvitePolicies.Members);
