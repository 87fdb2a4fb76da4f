throw new Error('DATABASE_URL must be set before starting PM2');
