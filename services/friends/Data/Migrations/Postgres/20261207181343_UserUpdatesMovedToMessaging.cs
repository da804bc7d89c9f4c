using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EasyIm.Friends.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class UserUpdatesMovedToMessaging : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "user_update_heads",
                schema: "friends");

            migrationBuilder.DropTable(
                name: "user_updates",
                schema: "friends");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "user_update_heads",
                schema: "friends",
                columns: table => new
                {
                    UserId = table.Column<long>(type: "bigint", nullable: false),
                    Last = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_user_update_heads", x => x.UserId);
                });

            migrationBuilder.CreateTable(
                name: "user_updates",
                schema: "friends",
                columns: table => new
                {
                    UserId = table.Column<long>(type: "bigint", nullable: false),
                    Position = table.Column<long>(type: "bigint", nullable: false),
                    Content = table.Column<string>(type: "text", nullable: false),
                    CreatedAtMs = table.Column<long>(type: "bigint", nullable: false),
                    FromUserId = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_user_updates", x => new { x.UserId, x.Position });
                });

            migrationBuilder.CreateIndex(
                name: "IX_user_updates_CreatedAtMs",
                schema: "friends",
                table: "user_updates",
                column: "CreatedAtMs");
        }
    }
}
