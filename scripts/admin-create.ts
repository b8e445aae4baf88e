/**
 * Creates an admin user (the first owner, typically): npm run admin:create -- <email> [owner|admin|viewer]
 * The password is read from ADMIN_PASSWORD, or asked for on the terminal (not echoed), or read from stdin.
 * Reads the same environment as the platform (.env, DATABASE_URL …). Writes an audit row.
 */
import readline from 'node:readline';
import { z } from 'zod';
import { hashPassword } from '../services/api/auth';
import { ConfigError, loadConfig } from '../services/core/config';
import { createDatabase } from '../services/core/db';
import { passwordProblem } from '../services/api/password-policy';

const USAGE =
  'usage: npm run admin:create -- <email> [owner|admin|viewer]   (password from ADMIN_PASSWORD, the terminal or stdin)';

async function askPassword(): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    let data = '';
    for await (const chunk of input) data += chunk;
    return data.split('\n')[0]!.replace(/\r$/, '');
  }
  const rl = readline.createInterface({ input, output: process.stdout, terminal: true });
  const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput;
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
    if (s.includes('Password')) write.call(rl, s);
  };
  const answer = await new Promise<string>((resolve) => rl.question('Password (12+ characters): ', resolve));
  rl.close();
  process.stdout.write('\n');
  return answer;
}

async function main(): Promise<number> {
  const [rawEmail, rawRole = 'owner'] = process.argv.slice(2);
  const email = z.email().safeParse(rawEmail?.trim().toLowerCase());
  const role = z.enum(['owner', 'admin', 'viewer']).safeParse(rawRole);
  if (!email.success || !role.success) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig();
  const password = process.env.ADMIN_PASSWORD || (await askPassword());
  const problem = passwordProblem(password, [email.data]);
  if (problem) {
    console.error(`The password is refused: ${problem}`);
    return 2;
  }
  const db = createDatabase({ url: config.DATABASE_URL, poolSize: 1 });
  try {
    const existing = await db.adminUser.findFirst({ where: { email: email.data, deletedAt: null } });
    if (existing) {
      console.error(`An admin user with the email ${email.data} exists (id ${existing.id}, ${existing.role}).`);
      return 1;
    }
    const user = await db.adminUser.create({
      data: { email: email.data, role: role.data, passwordHash: await hashPassword(password) },
    });
    await db.adminAuditLog.create({
      data: {
        action: 'user.create',
        resourceType: 'admin_user',
        resourceId: String(user.id),
        actorEmail: 'cli:admin-create',
        newValues: { email: user.email, role: user.role, source: 'cli' },
      },
    });
    console.log(`created ${user.role} ${user.email} (id ${user.id})`);
    return 0;
  } finally {
    await db.$disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof ConfigError ? err.message : `admin:create failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
